/** Placement under uwsgi on every control node; its db sync once, on the first. */
import { readFileSync } from 'node:fs';
import type { LabNode } from '../../../helpers/lab/model.ts';
import type { Component, Daemon, UpContext } from '../component.ts';
import { head, ini } from '../config.ts';
import { inNode, once } from '../exec.ts';
import type { LabPaths } from '../paths.ts';
import {
  answersViaVip, authtoken, dbPackages, dbUrl, hasService, openstackContext, servicePort, uwsgi, type OpenstackContext,
} from './common.ts';
import { serviceBootstrap } from './service.ts';

export const placementDir = (paths: LabPaths, node: LabNode) => paths.node(node.name, 'placement');

function renderPlacement(c: OpenstackContext, node: LabNode): Daemon {
  const dir = placementDir(c.paths, node);
  const conf = ini(
    {
      DEFAULT: { use_stderr: true },
      placement_database: { connection: dbUrl(c, 'placement', 'placement'), max_retries: -1 },
      api: { auth_strategy: 'keystone' },
      keystone_authtoken: authtoken(c, 'placement'),
      oslo_middleware: { enable_proxy_headers_parsing: true },
    },
    head(c.lab, node, 'placement.conf'),
  );
  const d = uwsgi(c, node, {
    service: 'placement-api', user: 'placement', wsgiFile: '/usr/bin/placement-api', port: servicePort(c.lab, 'placement'),
    env: { OS_PLACEMENT_CONFIG_DIR: dir }, dir,
  });
  const file = { path: `${dir}/placement.conf`, content: conf, owner: 'placement', mode: 0o640 };
  return { ...d, files: [...d.files, file] };
}

async function dbSync(c: UpContext): Promise<string> {
  const control = openstackContext(c).layout.control;
  const f = `${placementDir(c.paths, control)}/placement.conf`;
  return once(c.paths, 'placement-db', readFileSync(f, 'utf8'), () =>
    inNode(c.lab, control, 'placement', ['placement-manage', '--config-file', f, 'db', 'sync']));
}

export const placement: Component = {
  name: 'placement',
  after: ['keystone'],
  needed: (lab) => hasService(lab, 'placement'),
  packages: (lab) => ['placement-api', ...dbPackages(lab)],
  render: (ctx) => {
    const c = openstackContext(ctx);
    return c.layout.controls.map((n) => renderPlacement(c, n));
  },
  bootstrap: (c) => serviceBootstrap(c, 'placement', ['placement'], () => dbSync(c)),
  configure: async (c) => void (await c.step('answers through HAProxy', () => answersViaVip(c, 'placement'))),
};
