import { describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { limaHome, mergeNetworksYaml, stripLeadingTabs } from './internal.ts';

describe('internal steps', () => {
  test("networks.yaml merge keeps Lima's paths, comments and networks, and replaces the lab's entries", () => {
    const current = '# Lima\npaths:\n  varRun: /private/var/run/lima\nnetworks:\n  shared:\n    mode: shared\n  management:\n    mode: host\n';
    const merged = mergeNetworksYaml(current, 'networks:\n  management:\n    mode: shared\n    dhcpEnd: 192.168.105.99\n');
    expect(merged.startsWith('# Lima\n')).toBe(true);
    expect(parse(merged)).toEqual({
      paths: { varRun: '/private/var/run/lima' },
      networks: { shared: { mode: 'shared' }, management: { mode: 'shared', dhcpEnd: '192.168.105.99' } },
    });
  });

  test('ceph.conf loses the leading tabs of generate-minimal-conf; LIMA_HOME wins over ~/.lima', () => {
    expect(stripLeadingTabs('[global]\n\tfsid = x\n\tmon_host = [v2:1.2.3.4:3300]\n')).toBe('[global]\nfsid = x\nmon_host = [v2:1.2.3.4:3300]\n');
    expect(limaHome({ LIMA_HOME: '/l', HOME: '/h' })).toBe('/l');
    expect(limaHome({ HOME: '/h' })).toBe('/h/.lima');
  });
});
