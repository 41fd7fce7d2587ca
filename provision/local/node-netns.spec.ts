import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { loadLab } from '../../helpers/lab/load.ts';
import { isShared, mountsAt, mountsBelow, parseMountinfo } from './node-netns.ts';
import { NODE_NETNS_SCRIPT, supervisedArgv } from './supervisor.ts';
import { renderForTest } from './testing.ts';

const state = '/work/x y/.stackgate/four-node/run';
const MOUNTINFO = [
  '24 1 254:0 / / rw,relatime - ext4 /dev/vda rw',
  '45 24 254:0 /run/netns /run/netns rw,relatime shared:1 - ext4 /dev/vda rw',
  '46 45 0:4 net:[4026532243] /run/netns/four-node-fn2 rw shared:2 - nsfs nsfs rw',
  '60 24 254:0 /work/x\\040y/.stackgate/four-node/run/fn2-netns /work/x\\040y/.stackgate/four-node/run/fn2-netns rw,relatime shared:9 - ext4 /dev/vda rw',
  '61 60 0:4 net:[4026532500] /work/x\\040y/.stackgate/four-node/run/fn2-netns/ovnmeta-6e6f0af5 rw shared:10 master:3 - nsfs nsfs rw',
  '62 24 254:0 /work/x\\040y/.stackgate/four-node/run/fn3-netns /work/x\\040y/.stackgate/four-node/run/fn3-netns rw,relatime - ext4 /dev/vda rw',
  '63 62 254:0 /work/x\\040y/.stackgate/four-node/run/fn3-netns /work/x\\040y/.stackgate/four-node/run/fn3-netns rw,relatime shared:11 - ext4 /dev/vda rw',
  '64 24 254:0 /work/x\\040y/.stackgate/four-node/run/fn20-netns /work/x\\040y/.stackgate/four-node/run/fn20-netns rw shared:12 - ext4 /dev/vda rw',
  '',
].join('\n');

describe('mountinfo', () => {
  const mounts = parseMountinfo(MOUNTINFO);

  it('reads each mount: ids, the unescaped mount point, optional fields, type and source', () => {
    expect(mounts).toHaveLength(8);
    expect(mounts[4]).toEqual({
      id: 61, parent: 60, mountPoint: `${state}/fn2-netns/ovnmeta-6e6f0af5`, optional: ['shared:10', 'master:3'], fsType: 'nsfs', source: 'nsfs',
    });
    expect(mounts[0]!.optional).toEqual([]);
    expect(parseMountinfo('not a mount\n1 2 3\n')).toEqual([]);
  });

  it('tells shared mounts from private ones', () => {
    expect(mounts.map(isShared)).toEqual([false, true, true, true, true, false, true, true]);
  });

  it('finds the mounts on one path, the one on top last', () => {
    expect(mountsAt(mounts, `${state}/fn3-netns`).map((m) => m.id)).toEqual([62, 63]);
    expect(mountsAt(mounts, `${state}/fn1-netns`)).toEqual([]);
  });

  it('finds what is below a directory, deepest and last mounted first, and nothing of a sibling with a longer name', () => {
    expect(mountsBelow(mounts, state).map((m) => m.id)).toEqual([61, 64, 63, 62, 60]);
    expect(mountsBelow(mounts, `${state}/fn2-netns`).map((m) => m.id)).toEqual([61]);
    expect(mountsBelow(mounts, `${state}/fn2-netns/`).map((m) => m.id)).toEqual([61]);
    expect(mountsBelow(mounts, `${state}/fn2`)).toEqual([]);
  });

  it("reads this process's own mountinfo", async () => {
    const { readFileSync } = await import('node:fs');
    const own = parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'));
    expect(own.some((m) => m.mountPoint === '/')).toBe(true);
  });
});

describe("a daemon's start with the node's /run/netns", () => {
  it('the metadata agent and its checksum loop: in the network namespace of their node, each node with its own /run/netns', () => {
    const lab = loadLab('four-node');
    const r = renderForTest(lab);
    const meta = r.all.filter((d) => d.mounts === 'node-netns');
    expect(meta.map((d) => d.program).sort()).toEqual([
      'fn2-neutron-ovn-metadata-agent', 'fn2-ovnmeta-tx-csum', 'fn3-neutron-ovn-metadata-agent', 'fn3-ovnmeta-tx-csum',
    ]);
    for (const d of meta) {
      expect(supervisedArgv(lab, d, r.paths)).toEqual([
        '/usr/bin/nsenter', `--net=/run/netns/four-node-${d.node}`, '--',
        '/usr/bin/unshare', '--mount', '--propagation', 'unchanged', '--',
        '/bin/sh', '-c', NODE_NETNS_SCRIPT, d.program, join(r.paths.run, `${d.node}-netns`),
        ...d.argv,
      ]);
    }
    expect(new Set(meta.map((d) => r.paths.netns(d.node))).size).toBe(2);
    // The copy of the host's /run/netns made private before anything is bound over it; the node's directory bound
    // with the namespaces already in it.
    expect(NODE_NETNS_SCRIPT).toMatch(/; mount --make-private \/run\/netns && mount --rbind "\$1" \/run\/netns && shift && exec "\$@"$/);
    expect(NODE_NETNS_SCRIPT).toMatch(/^findmnt -no PROPAGATION --mountpoint "\$1" \| grep -q "\^shared" \|\| \{/);
    // Every other daemon: `ip netns exec` (a mount namespace of its own) and the node's name.
    for (const d of r.all.filter((x) => !x.mounts)) expect(supervisedArgv(lab, d, r.paths).slice(0, 3)).toEqual(['/usr/bin/ip', 'netns', 'exec']);
  });


  const scratch = mkdtempSync(join(tmpdir(), 'sg-netns-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('refuses to start (before any mount) when the node directory is not a shared mount point', async () => {
    const dir = join(scratch, "node dir 'x'");
    const r = await execa('/bin/sh', ['-c', NODE_NETNS_SCRIPT, 'fn2-ovnmeta-tx-csum', dir, '/bin/echo', 'started'], { reject: false, all: true });
    expect(r.exitCode).toBe(1);
    expect(r.all).toBe(`${dir}: not a shared mount point (lab up makes it)`);
  });
});
