/**
 * OVN's NB and SB databases as RAFT clusters as the spec's `ovnCluster` places them (seed 004: an OVN cluster on the
 * controllers): on each member one clustered ovsdb-server per database, with its own files, sockets and ports under
 * the lab's state dir (an embedded lab's OVN may run at the same time in other namespaces). The first member creates
 * each cluster (ovsdb-tool create-cluster), the others join it (join-cluster) once, before their servers first start.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { clusterStates, ovnClusterOf, raftFindings, type OvnCluster, type OvnDb } from '../../../helpers/ha/ovn.ts';
import type { Lab, LabNode } from '../../../helpers/lab/model.ts';
import { daemon, type Component, type Daemon, type LabContext } from '../component.ts';
import type { LabPaths } from '../paths.ts';
import { run } from '../sh.ts';
import { need } from './roles.ts';
import { hasService } from '../openstack/common.ts';
import { ovsRun } from '../openstack/ovn.ts';

const cluster = (lab: Lab): OvnCluster => need(ovnClusterOf(lab), `lab ${lab.name}: no ovnCluster in spec`);
const address = (node: LabNode) => need(node.apiAddress, `OVN member ${node.name} has no API address`);
const DBS: readonly { db: OvnDb; short: 'nb' | 'sb' }[] = [{ db: 'OVN_Northbound', short: 'nb' }, { db: 'OVN_Southbound', short: 'sb' }];

export const ovnRaftDir = (paths: LabPaths, node: LabNode) => paths.node(node.name, 'ovn-raft');
export const ovnRaftRun = (paths: LabPaths, node: LabNode) => `${paths.run}/${node.name}-ovn-raft`;
const dbFile = (paths: LabPaths, node: LabNode, short: string) => `${ovnRaftDir(paths, node)}/ovn${short}_db.db`;

/** Every member at its client port for `db`: what northd and Neutron connect to (they follow the leader). */
const remote = (c: OvnCluster, db: OvnDb) => c.nodes.map((n) => `tcp:${address(n)}:${c.clientPort[db]}`).join(',');

/**
 * ovn-northd on a member, where Neutron writes the NB: on every member, active only where it holds the SB database's
 * lock (the others stand by), as Kolla runs one per controller.
 */
function northd(lab: Lab, paths: LabPaths, node: LabNode): Daemon {
  const c = cluster(lab);
  // In the node's run directory as its shell has it (sshd's OVN_RUNDIR), pid file and control socket named as a
  // packaged northd's: `ovn-appctl -t ovn-northd status` on the node finds it, as ha.ovn-northd asks.
  const r = ovsRun(paths, node);
  return daemon(node, 'ovn-northd', {
    argv: [
      '/usr/bin/env', `OVS_RUNDIR=${r}`, `OVN_RUNDIR=${r}`, '/usr/bin/ovn-northd', `--ovnnb-db=${remote(c, 'OVN_Northbound')}`,
      `--ovnsb-db=${remote(c, 'OVN_Southbound')}`, `--pidfile=${r}/ovn-northd.pid`, '--no-chdir',
    ],
    dirs: [{ path: r }],
  });
}

function renderNode(lab: Lab, paths: LabPaths, node: LabNode): Daemon[] {
  const c = cluster(lab);
  const r = ovnRaftRun(paths, node);
  const dbs = DBS.map(({ db, short }) => daemon(node, `ovn-${short}-raft`, {
    argv: [
      '/usr/bin/env', `OVS_RUNDIR=${r}`, `OVN_RUNDIR=${r}`, '/usr/sbin/ovsdb-server', dbFile(paths, node, short),
      `--remote=punix:${r}/ovn${short}_db.sock`, `--remote=ptcp:${c.clientPort[db]}:${address(node)}`,
      `--pidfile=${r}/ovn${short}_db.pid`, `--unixctl=${r}/ovn${short}_db.ctl`, '--no-chdir',
    ],
    dirs: [{ path: r }, { path: ovnRaftDir(paths, node) }],
    health: [{ kind: 'tcp', host: address(node), port: c.clientPort[db] }],
  }));
  return hasService(lab, 'neutron') ? [...dbs, northd(lab, paths, node)] : dbs;
}

/** The database files, once: the first member's creates each cluster, every other member's joins it. */
async function createFiles({ lab, paths }: LabContext): Promise<string> {
  const c = cluster(lab);
  const [first] = c.nodes;
  const made: string[] = [];
  for (const node of c.nodes) {
    mkdirSync(ovnRaftDir(paths, node), { recursive: true });
    for (const { db, short } of DBS) {
      const file = dbFile(paths, node, short);
      if (existsSync(file)) continue;
      const local = `tcp:${address(node)}:${c.raftPort[db]}`;
      if (node.name === first!.name) {
        await run('ovsdb-tool', ['create-cluster', file, `/usr/share/ovn/ovn-${short}.ovsschema`, local]);
      } else {
        await run('ovsdb-tool', ['join-cluster', file, db, local, `tcp:${address(first!)}:${c.raftPort[db]}`]);
      }
      made.push(`${node.name} ${short}`);
    }
  }
  return made.length ? `made ${made.join(', ')}` : 'present';
}

/** ovsdb-client on the host, to the members' addresses on the lab's bridge. */
const hostShell = {
  run: async (command: string) => {
    try {
      return { code: 0, stdout: await run('sh', ['-c', command], { timeout: 20_000 }), stderr: '' };
    } catch (error) {
      return { code: 1, stdout: '', stderr: (error as Error).message };
    }
  },
};

export const ovnRaft: Component = {
  name: 'ovn-raft',
  needed: (lab) => !!lab.spec.ovnCluster,
  packages: () => ['ovn-central'],
  render: ({ lab, paths }) => cluster(lab).nodes.flatMap((n) => renderNode(lab, paths, n)),
  bootstrap: async (c) => void (await c.step('clustered NB and SB databases', () => createFiles(c))),
  ready: ({ lab }) => [{
    what: `OVN NB and SB RAFT clusters of ${cluster(lab).spec.nodes.join(', ')} with one leader each`,
    probe: async () => {
      const findings = raftFindings(cluster(lab), await clusterStates(hostShell, cluster(lab)));
      return findings.length === 0 || findings.join('; ');
    },
  }],
  keeps: ({ lab, paths }) => cluster(lab).nodes.map((n) => ovnRaftDir(paths, n)),
};
