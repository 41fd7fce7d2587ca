import { copyFileSync, existsSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import type { Layer } from '../../../helpers/gate/layers.ts';
import type { Lab } from '../../../helpers/lab/model.ts';
import { Cloud } from '../../../helpers/openstack/cloud.ts';
import { labPaths } from '../paths.ts';
import { run } from '../sh.ts';
import { programStatus } from '../supervisor.ts';

/**
 * A named, reversible fault for the embedded lab. `inject` and `revert` are idempotent and safe to run after a
 * crash (revert of a fault that is not in place does nothing). While it is in place, exactly `checks` fail,
 * each with a message naming one of `decisions` and `object`.
 */
export interface Drill {
  readonly name: string;
  readonly description: string;
  /** Decision IDs the fault violates: the embedded lab's, or the record's of the lab a drill is made for (four-node). */
  readonly decisions: readonly string[];
  /** Check IDs that must fail while the fault is in place. */
  readonly checks: readonly string[];
  /** Check IDs that must be reported blocked (not failed) while it is in place: they stand on a failing check. */
  readonly blocked?: readonly string[];
  /** Check IDs that must pass while it is in place (what the fault must not take down: the APIs through the VIP). */
  readonly passes?: readonly string[];
  /** A fragment every failure message must contain (the object the fault touches, e.g. "node1" or "eth3"). */
  readonly object: string;
  /**
   * Checks of `checks` whose failure cannot name the object: the fault stops something they only wait on (a write
   * through any controller waits for the lost synchronous standby), so they fail with a time-out of their own.
   */
  readonly objectless?: readonly string[];
  /** The layers to run while it is in place, when no check is expected to fail (a fault the run itself repairs). */
  readonly layers?: readonly Layer[];
  /** The environment of that run (e.g. the persistence layer's STACKGATE_PERSIST_NODES: reboot only this node). */
  readonly env?: Readonly<Record<string, string>>;
  /** Why it takes minutes (a reboot and its bounds): run by the nightly workflow, not by a plain `test:self`. */
  readonly slow?: string;
  inject(lab: Lab): Promise<void>;
  /** After the run with the fault in place: what is still wrong (e.g. a leak the run should have removed). */
  after?(lab: Lab): Promise<string[]>;
  revert(lab: Lab): Promise<void>;
}

/** Whether a process of ours with this pid still runs (signal 0). */
export function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** supervisorctl of the lab's supervisor; fails on an error (use where the state was checked first). */
export const supervisorctl = (lab: Lab, ...args: string[]) => run('supervisorctl', ['-c', labPaths(lab.name).supervisorConf, ...args]);

/** A Keystone session on the lab's cloud for one inject or revert, closed afterwards. */
export async function withCloud<T>(lab: Lab, fn: (c: Cloud) => Promise<T>): Promise<T> {
  const cloud = await Cloud.connect(lab);
  try {
    return await fn(cloud);
  } finally {
    await cloud.close();
  }
}

/** Nova's nova-compute services: host (Nova's name for the node), state, and the time of the last report. */
export const novaComputeReports = async (c: Cloud) =>
  (await c.get<{ services: { host: string; state: string; updated_at: string | null }[] }>('compute', '/os-services?binary=nova-compute')).body.services;

export interface FileEdit {
  readonly file: string;
  /** The good content into the faulty one. */
  readonly edit: (text: string) => string;
}

/** A drill that edits one file of the lab's configuration. */
export interface FileDrill extends Drill {
  target(lab: Lab): FileEdit;
}

/**
 * Inject backs each file up once (`<file>.drill-<name>`), writes the edit of the backup and restarts what reads
 * them; revert restores the backups, restarts, and removes the backups last (a crash before that leaves them for
 * the next revert).
 */
export function editDrill(meta: Omit<Drill, 'inject' | 'revert'>, targets: (lab: Lab) => FileEdit[], restart: (lab: Lab) => Promise<void>): Drill {
  const backupOf = (file: string) => `${file}.drill-${meta.name}`;
  return {
    ...meta,
    async inject(lab) {
      for (const { file, edit } of targets(lab)) {
        const backup = backupOf(file);
        if (!existsSync(backup)) copyFileSync(file, backup);
        const original = readFileSync(backup, 'utf8');
        const faulty = edit(original);
        if (faulty === original) throw new Error(`drill ${meta.name}: nothing to change in ${file}`);
        writeFileSync(file, faulty); // in place: the owner and mode stay
      }
      await restart(lab);
    },
    async revert(lab) {
      const restored = targets(lab).filter(({ file }) => existsSync(backupOf(file)));
      if (restored.length === 0) return;
      for (const { file } of restored) writeFileSync(file, readFileSync(backupOf(file)));
      await restart(lab);
      for (const { file } of restored) unlinkSync(backupOf(file));
    },
  };
}

/** editDrill of a single file, which it names (the dns drills' self-tests read it). */
export const fileDrill = (meta: Omit<Drill, 'inject' | 'revert'>, target: FileDrill['target'], restart: (lab: Lab) => Promise<void>): FileDrill => ({
  ...editDrill(meta, (lab) => [target(lab)], restart),
  target,
});

/**
 * A program left out of the programs enabled at boot (boot/enabled.json), as a unit that was never enabled: it runs
 * until its node reboots. Inject backs the file up once; revert restores it byte for byte and starts the program again
 * if a reboot left it down.
 */
export function notEnabledAtBoot(name: string, program: string): Pick<Drill, 'inject' | 'revert'> {
  const file = (lab: Lab) => labPaths(lab.name).bootEnabled;
  const backup = (lab: Lab) => `${file(lab)}.drill-${name}`;
  return {
    async inject(lab) {
      if (!existsSync(backup(lab))) copyFileSync(file(lab), backup(lab));
      const enabled = JSON.parse(readFileSync(backup(lab), 'utf8')) as string[];
      if (!enabled.includes(program)) throw new Error(`drill ${name}: ${program} is not in ${file(lab)}`);
      writeFileSync(file(lab), `${JSON.stringify(enabled.filter((p) => p !== program), null, 1)}\n`);
    },
    async revert(lab) {
      if (existsSync(backup(lab))) {
        writeFileSync(file(lab), readFileSync(backup(lab)));
        unlinkSync(backup(lab));
      }
      const state = (await programStatus(labPaths(lab.name))).find((p) => p.program === program)?.state;
      if (state && state !== 'RUNNING' && state !== 'STARTING') await supervisorctl(lab, 'start', program);
    },
  };
}
