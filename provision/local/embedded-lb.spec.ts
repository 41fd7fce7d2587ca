// embedded-lb is a copy of the embedded lab plus Octavia: this keeps the copy from drifting from its original.
import { expect, it } from 'vitest';
import { loadDecisions } from '../../helpers/gate/decisions.ts';
import { loadLab } from '../../helpers/lab/load.ts';

const lb = loadLab('embedded-lb');
const embedded = loadLab('embedded');

/** The spec without what makes embedded-lb itself: its name, Octavia, the layer's plan and its own state paths. */
function common(spec: object, name: string): unknown {
  const { name: _n, title: _t, loadbalancer: _l, ...rest } = spec as Record<string, unknown>;
  const services = { ...(rest.services as Record<string, unknown>) };
  delete services.octavia;
  return JSON.parse(JSON.stringify({ ...rest, services }).replaceAll(`.stackgate/${name}/`, '.stackgate/LAB/').replaceAll(`${name}-admin`, 'LAB-admin'));
}

it('embedded-lb is the embedded lab plus Octavia, nothing else', () => {
  expect(common(lb.spec, 'embedded-lb')).toEqual(common(embedded.spec, 'embedded'));
  expect(Object.keys(lb.spec.services ?? {})).toContain('octavia');
});

it("embedded-lb's decisions are the embedded lab's plus its LB-* decisions", () => {
  const [mine, original] = [loadDecisions(lb).all, loadDecisions(embedded).all];
  expect(mine.filter((d) => d.id.startsWith('LB-')).length).toBeGreaterThan(0);
  expect(mine.filter((d) => !d.id.startsWith('LB-'))).toEqual(original);
});
