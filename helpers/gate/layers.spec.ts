import { describe, expect, it } from 'vitest';
import { acceptanceArgs, layerOfFile } from './layers.ts';

describe('layers of a run', () => {
  it('a check file belongs to the layer folder it sits in under suites/', () => {
    expect(layerOfFile('/work/main/suites/network/vip.test.ts')).toBe('network');
    expect(layerOfFile('suites/compute/**/*.test.ts')).toBe('compute');
    expect(layerOfFile('/work/main/suites/self/bad-input.spec.ts')).toBeUndefined();
    expect(layerOfFile('/work/main/provision/local/drills/drills.live.ts')).toBeUndefined();
  });

  it('npm test hands Vitest its options, --gated as the environment', () => {
    expect(acceptanceArgs(['-t', 'net.mtu'])).toEqual({
      gated: false,
      ensure: true,
      vitest: ['run', '-t', 'net.mtu'],
      env: { STACKGATE_ACCEPTANCE: '1' },
    });
    expect(acceptanceArgs(['--gated']).env).toEqual({ STACKGATE_ACCEPTANCE: '1', STACKGATE_GATED: '1' });
    expect(acceptanceArgs(['--gated', '--no-ensure'])).toMatchObject({ ensure: false, vitest: ['run'] });
  });
});
