/** The cloud's own keys and files: its secrets, and the lab CA where services running as their users can read it. */
import { existsSync, readFileSync } from 'node:fs';
import type { Component, RenderedFile } from '../component.ts';
import { caForServices, ensureOpenstackSecrets, openstackEnabled } from './common.ts';

export const openstack: Component = {
  name: 'openstack',
  needed: openstackEnabled,
  keys: async ({ paths }) => {
    ensureOpenstackSecrets(paths);
    return 'secrets';
  },
  files: ({ paths }): RenderedFile[] =>
    existsSync(paths.caCert) ? [{ path: caForServices(paths), content: readFileSync(paths.caCert, 'utf8'), mode: 0o644 }] : [],
  keeps: ({ paths }) => [`${paths.root}/openstack`],
};
