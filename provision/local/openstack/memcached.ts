/** memcached on every control node: Keystone's token cache and the services' auth-token caches, each listing all. */
import { MEMCACHED_PORT } from '../../../helpers/ha/memcached.ts';
import { daemon, type Component } from '../component.ts';
import { openstackContext, openstackEnabled } from './common.ts';

export const memcached: Component = {
  name: 'memcached',
  needed: openstackEnabled,
  packages: () => ['memcached', 'python3-memcache'],
  render: (ctx) =>
    openstackContext(ctx).layout.controls.map((node) =>
      daemon(node, 'memcached', {
        argv: [
          '/usr/bin/memcached', '-u', 'memcache', '-l', node.apiAddress!, '-p', String(MEMCACHED_PORT), '-U', '0',
          '-m', '64', '-c', '4096',
        ],
        health: [{ kind: 'tcp', host: node.apiAddress!, port: MEMCACHED_PORT }],
      })),
};
