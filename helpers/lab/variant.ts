import { loadLab } from './load.ts';
import { Lab } from './model.ts';
import type { LabSpec } from './spec.ts';

/** A bundled lab with one change, for tests of what a check would see on a faulty design. */
export function labVariant(change: (spec: LabSpec) => void, base = 'primary'): Lab {
  const lab = loadLab(base);
  const spec = structuredClone(lab.spec) as LabSpec;
  change(spec);
  return new Lab(spec, lab.file);
}
