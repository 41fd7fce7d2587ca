import { describe, expect, it } from 'vitest';
import { loadLab } from '../lab/load.ts';
import { novaControlNodes, novaServiceFindings, type NovaService } from './nova.ts';

const lab = loadLab('ha-infra');
const up = (binary: string, host: string): NovaService => ({ binary, host, state: 'up', status: 'enabled', updated_at: '2026-12-06T16:00:00' });
const all = ['controller-1', 'controller-2', 'controller-3'].flatMap((h) => [up('nova-conductor', h), up('nova-scheduler', h)]);

describe("Nova's control services on every control node", () => {
  it("judges ha-infra's three controllers, and nothing on a lab without Nova", () => {
    expect(novaControlNodes(lab).map((n) => n.name)).toEqual(['controller-1', 'controller-2', 'controller-3']);
    expect(novaControlNodes(loadLab('embedded-infra'))).toEqual([]);
  });

  it('agrees when every conductor and scheduler is up, and names the one down or missing', () => {
    const nodes = novaControlNodes(lab);
    expect(novaServiceFindings(nodes, all)).toEqual([]);
    const seen = all.map((s) => (s.host === 'controller-3' && s.binary === 'nova-scheduler' ? { ...s, state: 'down' } : s))
      .filter((s) => !(s.host === 'controller-2' && s.binary === 'nova-conductor'));
    expect(novaServiceFindings(nodes, seen)).toEqual([
      'controller-2: no nova-conductor service on host controller-2 (Nova lists it on: controller-1, controller-3)',
      'controller-3: nova-scheduler on controller-3 is down/enabled (last report 2026-12-06T16:00:00)',
    ]);
  });
});
