// Compares the gate's verdict (reports/decisions.json) with what is known for a lab and layer:
//   fixtures/labs/<lab>/expected-failures   check IDs that must fail (real defects of the design), one per line
//   fixtures/labs/<lab>/known-gaps          check IDs not written yet; the decisions they leave uncovered are derived
// A decision with a known gap beside a passed check is partial, never passed; a passed decision with a check that
// did not prove its part is a mismatch. Partial and design-only decisions are listed (not-proven=…), not failures.
// Lines may carry a comment after '#'. Prints "ok <passed> <failed> …" or "MISMATCH …"; exit code 0 either way.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const [lab, minRun = '0', minExecuted = '0'] = process.argv.slice(2);
const v = JSON.parse(readFileSync(resolve('reports/decisions.json'), 'utf8'));
const list = (name) => {
  const file = join('fixtures/labs', lab, name);
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean).sort();
};
const missing = new Set(list('known-gaps'));
const ran = new Set(v.results.map((r) => r.checkId));
const layerOf = (id) => ({ pre: 'preflight', net: 'network', tls: 'tls', dns: 'dns', compute: 'compute', storage: 'storage', mon: 'monitoring', ha: 'ha', lb: 'loadbalancer', persist: 'persistence' })[id.split('.')[0]];
const wantFailed = list('expected-failures').filter((c) => ran.has(c));
// A decision in scope stays uncovered when each of its checks in the layers run is a known gap.
const wantGaps = v.matrix
  .filter((m) => m.status !== 'not in this run')
  .filter((m) => {
    const inRun = m.checks.map((c) => c.id).filter((c) => v.layers.includes(layerOf(c)));
    return inRun.length > 0 && inRun.every((c) => missing.has(c));
  })
  .map((m) => m.decision)
  .sort();
const failed = v.results.filter((r) => r.status === 'failed').map((r) => r.checkId).sort();
const gaps = v.matrix.filter((m) => m.status === 'uncovered').map((m) => m.decision).sort();
const executed = v.counts.passed + v.counts.failed + v.counts.waived;
const declared = v.results.filter((r) => r.status === 'skipped' && r.skip && r.skip.kind !== 'undeclared').length;
const others = v.reasons.filter((r) => !/check\(s\) failed|no executed check covers/.test(r));
// A decision reads passed only when each check it names passed or does not apply to the lab (helpers/gate/verdict.ts):
// one shown passed beside a known gap, a not-due or a lacking check is a gate that says more than it proved.
const byId = new Map(v.results.map((r) => [r.checkId, r]));
const proves = (c) => c.status === 'passed' || byId.get(c.id)?.skip?.kind === 'not-applicable';
const overclaimed = v.matrix.filter((m) => m.status === 'passed' && !m.checks.every(proves)).map((m) => m.decision).sort();
const unproven = v.matrix.filter((m) => m.status === 'partial' || m.status === 'design only').map((m) => `${m.decision}:${m.status.replace(' ', '-')}`);
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const ok = same(wantFailed, failed) && same(wantGaps, gaps) && others.length === 0 && overclaimed.length === 0 && executed + declared >= Number(minRun) && executed >= Number(minExecuted);
console.log(
  `${ok ? 'ok' : 'MISMATCH'} ${v.counts.passed} ${v.counts.failed} executed=${executed} declared-skips=${declared} ` +
    `failed=[${failed}] expected=[${wantFailed}] gaps=[${gaps}] known-gaps=[${wantGaps}] other-reasons=${JSON.stringify(others)} ` +
    `passed-but-unproven=[${overclaimed}] not-proven=[${unproven}]`,
);
