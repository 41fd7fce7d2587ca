/**
 * Glance on every control node: images in Ceph when Ceph is due (the file store stays readable), else on file; with
 * several controllers the file store is one directory they all share (the namespaces share this host's file system,
 * standing in for the NFS share a real cluster mounts on each), so any controller serves an image another stored.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LabNode } from '../../../helpers/lab/model.ts';
import { cephConf } from '../ceph/common.ts';
import { daemon, type Component, type Daemon, type UpContext } from '../component.ts';
import { head, ini } from '../config.ts';
import { inNode, once } from '../exec.ts';
import type { LabPaths } from '../paths.ts';
import {
  answersViaVip, authtoken, cephConsumer, dbUrl, hasService, layout, openstackContext, servicePort, type OpenstackContext,
} from './common.ts';
import { serviceBootstrap } from './service.ts';

export const glanceDir = (paths: LabPaths, node: LabNode) => paths.node(node.name, 'glance');

/** The file store's directory: the controller's own where there is one, else the one all controllers share. */
export function glanceImages(c: Pick<OpenstackContext, 'paths' | 'layout'>, node: LabNode): string {
  return c.layout.controls.length > 1 ? join(c.paths.root, 'shared', 'glance-images') : `${glanceDir(c.paths, node)}/images`;
}

function renderGlance(c: OpenstackContext, node: LabNode): Daemon {
  const dir = glanceDir(c.paths, node);
  const images = glanceImages(c, node);
  const rbd = cephConsumer(c.lab, 'glance');
  const conf = ini(
    {
      DEFAULT: { use_stderr: true, bind_host: node.apiAddress, bind_port: servicePort(c.lab, 'glance'), workers: 1, enabled_backends: rbd ? 'rbd:rbd, fs:file' : 'fs:file', show_image_direct_url: !!rbd },
      database: { connection: dbUrl(c, 'glance', 'glance'), max_retries: -1 },
      keystone_authtoken: authtoken(c, 'glance'),
      paste_deploy: { flavor: 'keystone', config_file: '/etc/glance/glance-api-paste.ini' },
      glance_store: { default_backend: rbd ? 'rbd' : 'fs' },
      // With Ceph due, new images go to Ceph; the file store stays readable for images made before.
      ...(rbd ? { rbd: { rbd_store_pool: rbd.pool, rbd_store_user: rbd.user, rbd_store_ceph_conf: cephConf(c.paths), rbd_store_chunk_size: 8 } } : {}),
      fs: { filesystem_store_datadir: images },
      os_glance_staging_store: { filesystem_store_datadir: `${dir}/staging` },
      os_glance_tasks_store: { filesystem_store_datadir: `${dir}/tasks` },
      oslo_concurrency: { lock_path: `${dir}/lock` },
      oslo_middleware: { enable_proxy_headers_parsing: true },
    },
    head(c.lab, node, 'glance-api.conf'),
  );
  return daemon(node, 'glance-api', {
    argv: ['/usr/bin/glance-api', '--config-file', `${dir}/glance-api.conf`],
    user: 'glance',
    files: [{ path: `${dir}/glance-api.conf`, content: conf, owner: 'glance', mode: 0o640 }],
    dirs: [dir, images, ...['/staging', '/tasks', '/lock'].map((p) => `${dir}${p}`)].map((path) => ({ path, owner: 'glance' })),
    health: [{ kind: 'tcp', host: node.apiAddress!, port: servicePort(c.lab, 'glance') }],
  });
}

async function dbSync(c: UpContext): Promise<string> {
  const control = openstackContext(c).layout.control;
  const f = `${glanceDir(c.paths, control)}/glance-api.conf`;
  return once(c.paths, 'glance-db', readFileSync(f, 'utf8'), () =>
    inNode(c.lab, control, 'glance', ['glance-manage', '--config-file', f, 'db_sync']));
}

export const glance: Component = {
  name: 'glance',
  after: ['keystone', 'ceph-pools'],
  needed: (lab) => hasService(lab, 'glance'),
  packages: () => ['glance'],
  render: (ctx) => {
    const c = openstackContext(ctx);
    return c.layout.controls.map((n) => renderGlance(c, n));
  },
  bootstrap: (c) => serviceBootstrap(c, 'glance', ['glance'], () => dbSync(c)),
  configure: async (c) => void (await c.step('answers through HAProxy', () => answersViaVip(c, 'glance'))),
  keeps: ({ lab, paths }) => {
    const { control, controls } = layout(lab);
    const shared = controls.length > 1 ? [glanceImages({ paths, layout: layout(lab) }, control)] : [];
    return [...controls.map((n) => glanceDir(paths, n)), ...shared];
  },
};
