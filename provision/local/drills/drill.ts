import type { Layer } from '../../../helpers/gate/layers.ts';
import type { Lab } from '../../../helpers/lab/model.ts';
import { Cloud } from '../../../helpers/openstack/cloud.ts';
import { labPaths } from '../paths.ts';
import { run } from '../sh.ts';

/**
 * A named, reversible fault for the embedded lab. `inject` and `revert` are idempotent and safe to run after a
 * crash (revert of a fault that is not in place does nothing). While it is in place, exactly `checks` fail,
 * each with a message naming one of `decisions` and `object`.
 */
export interface Drill {
  readonly name: string;
  readonly description: string;
  /** Decision IDs (of the embedded lab) the fault violates. */
  readonly decisions: readonly string[];
  /** Check IDs that must fail while the fault is in place. */
  readonly checks: readonly string[];
  /** A fragment every failure message must contain (the object the fault touches, e.g. "node1" or "eth3"). */
  readonly object: string;
  /** The layers to run while it is in place, when no check is expected to fail (a fault the run itself repairs). */
  readonly layers?: readonly Layer[];
  inject(lab: Lab): Promise<void>;
  /** After the run with the fault in place: what is still wrong (e.g. a leak the run should have removed). */
  after?(lab: Lab): Promise<string[]>;
  revert(lab: Lab): Promise<void>;
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
