/** `lab reap`: remove what earlier runs left in the lab's cloud, after making sure the lab is attached here. */
import { labReachability } from '../helpers/gate/reach.ts';
import { redact } from '../helpers/gate/redact.ts';
import type { Lab } from '../helpers/lab/model.ts';
import { Cloud } from '../helpers/openstack/cloud.ts';
import { reap, type ReapResult } from '../helpers/openstack/resources.ts';

export async function reapLab(lab: Lab): Promise<ReapResult> {
  const r = await labReachability(lab);
  if (!r.reachable) throw new Error(`lab ${lab.name} is not attached to this host (routing table only, nothing was sent): ${r.problems.slice(0, 3).join('; ')}`);
  const cloud = await Cloud.connect(lab);
  try {
    const result = await reap(cloud);
    return { removed: result.removed, failed: result.failed.map(redact) };
  } finally {
    await cloud.close();
  }
}
