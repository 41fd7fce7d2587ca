import { describe, expect, it } from 'vitest';
import { probePath } from './catalog.ts';

describe('a call per catalog service that needs the token', () => {
  it('lists something, with the version segment only where the endpoint URL lacks it', () => {
    expect(probePath('identity', 'https://internal.openstack.local:5000')).toBe('/v3/auth/projects');
    expect(probePath('identity', 'https://internal.openstack.local:5000/v3')).toBe('/auth/projects');
    expect(probePath('load-balancer', 'https://api:9876')).toBe('/v2/lbaas/loadbalancers?limit=1');
    expect(probePath('key-manager', 'https://api:9311')).toBe('/v1/secrets?limit=1');
    expect(probePath('container-infra', 'https://api:9511/v1')).toBe('/clusters?limit=1');
    expect(probePath('orchestration', 'https://api:8004/v1/3f2a')).toBe('/stacks?limit=1');
  });

  it('never falls back to GET / for a service it knows no call for', () => {
    expect(probePath('telemetry-unknown', 'https://api:1234')).toBeUndefined();
  });
});
