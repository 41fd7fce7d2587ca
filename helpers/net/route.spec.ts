import { describe, expect, it } from 'vitest';
import { defaultRoute, offLabRoute, routeTo } from './route.ts';

describe('route guard', () => {
  const def = { dev: 'eth0', gateway: '172.17.0.1' };
  it('accepts a directly attached lab interface', () => {
    expect(offLabRoute({ address: '10.0.2.250', dev: 'sg-external', gateway: undefined }, def)).toBeUndefined();
  });
  it('refuses a route through a gateway, the default interface, or none', () => {
    expect(offLabRoute({ address: '10.0.2.250', dev: 'eth0', gateway: '172.17.0.1' }, def)).toMatch(/via gateway 172\.17\.0\.1/);
    expect(offLabRoute({ address: '172.17.0.9', dev: 'eth0', gateway: undefined }, def)).toMatch(/default route's interface/);
    expect(offLabRoute({ address: '10.9.9.9', dev: undefined, gateway: undefined }, def)).toMatch(/no route/);
  });
  it('reads the real routing table without sending anything', async () => {
    const d = await defaultRoute();
    // 192.0.2.0/24 is TEST-NET-1: no lab lives there, so the lookup must not look like a lab route.
    const r = await routeTo('192.0.2.10');
    expect(offLabRoute(r, d)).toBeDefined();
  });
});
