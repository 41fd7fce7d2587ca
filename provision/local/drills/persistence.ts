/**
 * Faults only a reboot shows: the lab runs fine until a node power-cycles. Each drill runs the persistence layer
 * rebooting only the node its fault is on (STACKGATE_PERSIST_NODES), so it costs one node's reboot, not the lab's.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Lab } from '../../../helpers/lab/model.ts';
import { persistence } from '../../../helpers/lab/defaults.ts';
import { cinderBackends } from '../openstack/cinder.ts';
import { labPaths } from '../paths.ts';
import { programStatus } from '../supervisor.ts';
import { supervisorctl, type Drill } from './drill.ts';

/**
 * The first Ceph backend's cinder-volume left out of what starts at boot: the lab runs on until its node reboots,
 * then the service stays down. Only the reboot shows it (compute.restart-policy reads the same list beforehand).
 */
function serviceOffAfterReboot(lab: Lab): Drill | undefined {
  const host = cinderBackends(lab).find((b) => b.driver === 'ceph' && b.runs)?.hosts[0];
  if (!persistence(lab).required || !host) return undefined;
  const node = lab.node(host).name;
  const program = `${node}-cinder-volume`;
  const name = 'persist-service-not-enabled-at-boot';
  const file = () => labPaths(lab.name).bootEnabled;
  const backup = () => `${file()}.drill-${name}`;
  return {
    name,
    description: `${program} not enabled at boot, then ${node} hard-rebooted: the service stays down`,
    decisions: ['ARC-04'],
    checks: ['persist.recovery'],
    object: program,
    layers: ['persistence'],
    env: { STACKGATE_PERSIST_NODES: node },
    async inject() {
      if (!existsSync(backup())) writeFileSync(backup(), readFileSync(file()));
      const enabled = JSON.parse(readFileSync(backup(), 'utf8')) as string[];
      if (!enabled.includes(program)) throw new Error(`drill ${name}: ${program} is not in ${file()}`);
      writeFileSync(file(), `${JSON.stringify(enabled.filter((p) => p !== program), null, 1)}\n`);
    },
    async revert(lab) {
      if (existsSync(backup())) {
        writeFileSync(file(), readFileSync(backup()));
        rmSync(backup());
      }
      const state = (await programStatus(labPaths(lab.name))).find((p) => p.program === program)?.state;
      if (state && state !== 'RUNNING' && state !== 'STARTING') await supervisorctl(lab, 'start', program);
    },
  };
}

export const persistenceDrillsFor = (lab: Lab): Drill[] => [serviceOffAfterReboot(lab)].filter((d) => d !== undefined);
