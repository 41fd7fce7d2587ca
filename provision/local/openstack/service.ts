/** What every API service of the cloud does before it starts: its database, its Keystone registration, its db sync. */
import type { UpContext } from '../component.ts';
import { register } from './keystone.ts';
import { ensureDatabase } from './database.ts';

export async function serviceBootstrap(
  c: UpContext, service: string, databases: readonly string[], dbSync: () => Promise<string>,
): Promise<void> {
  await c.step('database', () => ensureDatabase(c, service, databases));
  await c.step('user, service and endpoints', () => register(c, service));
  await c.step('db sync', dbSync);
}
