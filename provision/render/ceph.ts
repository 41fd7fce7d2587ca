/**
 * cephadm (storage phase 2): the bootstrap config, the host list with the exact host names, MON/MGR placement, the
 * OSD service spec, the pool and client-key commands, and where Kolla wants ceph.conf and the keyrings.
 */
import type { Lab } from '../../helpers/lab/model.ts';
import type { CephSpec } from '../../helpers/lab/spec.ts';
import { diskDevices } from './lima.ts';
import { cephPublicNetwork, header, need, nodeAddressOn, yaml, type RenderedFile } from './common.ts';
import { quote } from '../../helpers/node/quote.ts';

function cephOf(lab: Lab): CephSpec {
  const ceph = need(lab.ceph, `lab ${lab.name} has no Ceph`);
  if ((ceph.deployer ?? 'cephadm') !== 'cephadm') throw new Error(`lab ${lab.name}: Ceph is deployed by ${ceph.deployer}, the lima provider drives cephadm`);
  return ceph;
}

/** The node cephadm bootstraps on (the first MON) and its address on Ceph's public network. */
export function bootstrapNode(lab: Lab) {
  const node = lab.node(need(cephOf(lab).mons[0], `lab ${lab.name}: Ceph has no MON`));
  return { node, monIp: nodeAddressOn(lab, node, cephPublicNetwork(lab)) };
}

/** Every node with a Ceph daemon, bootstrap node first. */
export function cephHosts(lab: Lab) {
  const ceph = cephOf(lab);
  const names = [...new Set([...ceph.mons, ...(ceph.mgrs ?? []), ...ceph.osds.map((o) => o.node)])];
  const net = cephPublicNetwork(lab);
  return names.map((n) => {
    const node = lab.node(n);
    return { name: n, hostname: node.hostname, addr: nodeAddressOn(lab, node, net) };
  });
}

/** cephadm bootstrap --config: ini applied to the new cluster's config database. */
export function renderBootstrapConf(lab: Lab): string {
  const ceph = cephOf(lab);
  const lines = [header(lab, 'cephadm bootstrap --config').trimEnd(), '[global]', `public_network = ${lab.network(cephPublicNetwork(lab)).cidr.text}`];
  const replication = lab.networkFor('storage-replication');
  if (replication) lines.push(`cluster_network = ${replication.cidr.text}`);
  if (ceph.poolDefaultSize !== undefined) lines.push(`osd_pool_default_size = ${ceph.poolDefaultSize}`);
  if (ceph.osdMemoryTargetBytes !== undefined) lines.push('', '[osd]', 'osd_memory_target_autotune = false', `osd_memory_target = ${ceph.osdMemoryTargetBytes}`);
  return `${lines.join('\n')}\n`;
}

/** Host specs: every Ceph node under its exact host name (cephadm refuses a name that differs from `hostname`). */
export function renderHostSpecs(lab: Lab): string {
  const ceph = cephOf(lab);
  const docs = cephHosts(lab).map((h) => {
    const labels = [
      ...(ceph.mons.includes(h.name) ? ['mon', '_admin'] : []),
      ...((ceph.mgrs ?? []).includes(h.name) ? ['mgr'] : []),
      ...(ceph.osds.some((o) => o.node === h.name) ? ['osd'] : []),
    ];
    return yaml({ service_type: 'host', hostname: h.hostname, addr: h.addr, labels: [...new Set(labels)] });
  });
  return header(lab, 'cephadm host list') + docs.join('---\n');
}

/** MON and MGR exactly where the spec puts them (cephadm would spread up to 5 MONs over the hosts). */
export function renderServiceSpecs(lab: Lab): string {
  const ceph = cephOf(lab);
  const host = (n: string) => lab.node(n).hostname;
  const docs = [yaml({ service_type: 'mon', placement: { hosts: ceph.mons.map(host) } })];
  if (ceph.mgrs?.length) docs.push(yaml({ service_type: 'mgr', placement: { hosts: ceph.mgrs.map(host) } }));
  return header(lab, 'cephadm MON/MGR placement') + docs.join('---\n');
}

/** OSD service spec: each OSD node's raw disk by its guest device path. */
export function renderOsdSpec(lab: Lab): string {
  const ceph = cephOf(lab);
  const docs = ceph.osds.map((osd) => {
    const node = lab.node(osd.node);
    const disk = need(diskDevices(node).find((d) => d.name === osd.disk), `OSD on ${osd.node}: no disk ${osd.disk ?? '(none named)'}`);
    return yaml({ service_type: 'osd', service_id: `${lab.name}-${osd.node}`, placement: { hosts: [node.hostname] }, spec: { data_devices: { paths: [disk.device] } } });
  });
  return header(lab, 'cephadm OSD service spec') + docs.join('---\n');
}

/** The ceph/rbd commands after the OSDs are up: OSD memory, pools, clients with their keyrings (argv each). */
export function cephSettingCommands(lab: Lab): string[][] {
  const ceph = cephOf(lab);
  const out: string[][] = [];
  if (ceph.poolDefaultSize !== undefined) out.push(['ceph', 'config', 'set', 'global', 'osd_pool_default_size', String(ceph.poolDefaultSize)]);
  if (ceph.osdMemoryTargetBytes !== undefined) {
    out.push(['ceph', 'config', 'set', 'osd', 'osd_memory_target_autotune', 'false']);
    out.push(['ceph', 'config', 'set', 'osd', 'osd_memory_target', String(ceph.osdMemoryTargetBytes)]);
  }
  if (lab.spec.monitoring?.jobs.some((j) => j.job === 'ceph_mgr_exporter')) out.push(['ceph', 'mgr', 'module', 'enable', 'prometheus']);
  return out;
}

export function cephPoolCommands(lab: Lab): string[][] {
  return (cephOf(lab).pools ?? []).flatMap((p) => [
    ['ceph', 'osd', 'pool', 'create', p.name],
    ...(p.size !== undefined ? [['ceph', 'osd', 'pool', 'set', p.name, 'size', String(p.size)]] : []),
    ...(p.application === 'rbd' ? [['rbd', 'pool', 'init', p.name]] : p.application ? [['ceph', 'osd', 'pool', 'application', 'enable', p.name, p.application]] : []),
  ]);
}

/** `ceph auth get-or-create` per client: RBD profile on each of its pools; the keyring is its output. */
export function cephClientCommands(lab: Lab): { client: string; argv: string[] }[] {
  return Object.entries(cephOf(lab).clients ?? {}).map(([client, pools]) => {
    const caps = pools.map((p) => `profile rbd pool=${p}`).join(', ');
    return { client, argv: ['ceph', 'auth', 'get-or-create', client, 'mon', 'profile rbd', 'osd', caps, 'mgr', caps] };
  });
}

export function keyringName(client: string): string {
  return `ceph.${client}.keyring`;
}

/** Where Kolla's external-Ceph guide wants ceph.conf and the keyrings, under its config dir (node_custom_config). */
export function kollaCephFiles(lab: Lab): { from: string; to: string }[] {
  const ceph = cephOf(lab);
  const consumers = ceph.consumers ?? [];
  const clients = Object.keys(ceph.clients ?? {});
  const rbd = lab.cinderBackends.find((b) => b.driver === 'ceph');
  const cinder = `client.${rbd?.user ?? 'cinder'}`;
  const want = (client: string) => need(clients.find((c) => c === client), `lab ${lab.name}: Ceph consumer needs ${client}, which storage.ceph.clients lacks`);
  const out: { from: string; to: string }[] = [];
  if (consumers.includes('glance')) out.push({ from: 'ceph.conf', to: 'config/glance/ceph.conf' }, { from: keyringName(want('client.glance')), to: `config/glance/${keyringName('client.glance')}` });
  if (consumers.includes('cinder') || consumers.includes('cinder-backup')) out.push({ from: 'ceph.conf', to: 'config/cinder/ceph.conf' });
  if (consumers.includes('cinder')) out.push({ from: keyringName(want(cinder)), to: `config/cinder/cinder-volume/${keyringName(cinder)}` });
  if (consumers.includes('cinder-backup')) {
    out.push({ from: keyringName(want(cinder)), to: `config/cinder/cinder-backup/${keyringName(cinder)}` });
    out.push({ from: keyringName(want('client.cinder-backup')), to: `config/cinder/cinder-backup/${keyringName('client.cinder-backup')}` });
  }
  if (consumers.includes('nova')) out.push({ from: 'ceph.conf', to: 'config/nova/ceph.conf' }, { from: keyringName(want(cinder)), to: `config/nova/${keyringName(cinder)}` });
  return out;
}

export function renderCeph(lab: Lab): RenderedFile[] {
  if (!lab.ceph) return [];
  const cmds = [...cephSettingCommands(lab), ...cephPoolCommands(lab), ...cephClientCommands(lab).map((c) => c.argv)];
  return [
    { path: 'ceph/bootstrap.conf', content: renderBootstrapConf(lab) },
    { path: 'ceph/hosts.yaml', content: renderHostSpecs(lab) },
    { path: 'ceph/services.yaml', content: renderServiceSpecs(lab) },
    { path: 'ceph/osd-spec.yaml', content: renderOsdSpec(lab) },
    {
      path: 'ceph/pools-and-keys.sh',
      content: `#!/bin/sh\n${header(lab, 'the ceph commands `lab up --phase 2` runs in `cephadm shell` (for reading; the plan runs them one by one)')}set -eu\n${cmds.map((c) => c.map(quote).join(' ')).join('\n')}\n`,
    },
    { path: 'ceph/kolla-files.json', content: `${JSON.stringify({ note: 'Kolla external Ceph: file fetched from the cluster → path under the Kolla config dir', files: kollaCephFiles(lab) }, null, 2)}\n` },
  ];
}
