/**
 * Every component the embedded lab can have. Adding a service is one module and one line here; the orchestrator
 * walks what the spec needs in `after` order.
 */
import { cephMgr } from './ceph/mgr.ts';
import { cephMon } from './ceph/mon.ts';
import { cephOsd } from './ceph/osd.ts';
import { cephPools } from './ceph/pools.ts';
import type { Component } from './component.ts';
import { bind } from './infra/bind.ts';
import { hosts } from './infra/hosts.ts';
import { loadbalancer } from './infra/loadbalancer.ts';
import { nodeExporter, prometheus } from './infra/monitoring.ts';
import { pki } from './infra/pki.ts';
import { postgresql, postgresqlStandby } from './infra/postgresql.ts';
import { ovnRaft } from './infra/ovn-raft.ts';
import { rabbitmqCluster } from './infra/rabbitmq.ts';
import { staticRoutes } from './infra/routes.ts';
import { rsyslog } from './infra/rsyslog.ts';
import { sshd } from './infra/sshd.ts';
import { openstack } from './openstack/base.ts';
import { cinder } from './openstack/cinder.ts';
import { novaCompute } from './openstack/compute.ts';
import { glance } from './openstack/glance.ts';
import { guestImage } from './openstack/guest-image.ts';
import { horizon } from './openstack/horizon.ts';
import { keystone } from './openstack/keystone.ts';
import { libvirt } from './openstack/libvirt.ts';
import { mariadb, mysqldExporter } from './openstack/mariadb.ts';
import { memcached } from './openstack/memcached.ts';
import { metadata } from './openstack/metadata.ts';
import { neutron } from './openstack/neutron.ts';
import { nova } from './openstack/nova.ts';
import { octavia } from './openstack/octavia.ts';
import { openvswitch, ovnCentral, ovnController } from './openstack/ovn.ts';
import { placement } from './openstack/placement.ts';
import { rabbitmq } from './openstack/rabbitmq.ts';

export const COMPONENTS: readonly Component[] = [
  // infrastructure
  pki, hosts, sshd, nodeExporter, bind, loadbalancer, prometheus, postgresql, postgresqlStandby, rsyslog,
  rabbitmqCluster, ovnRaft, staticRoutes,
  // Ceph
  cephMon, cephMgr, cephOsd, cephPools,
  // OpenStack
  openstack, mariadb, mysqldExporter, rabbitmq, memcached, ovnCentral, openvswitch, ovnController, keystone, glance,
  placement, nova, neutron, cinder, libvirt, novaCompute, metadata, guestImage, horizon, octavia,
];
