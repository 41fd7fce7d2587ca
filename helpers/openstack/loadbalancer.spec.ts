import { describe, expect, it } from 'vitest';
import { loadBalancer, LB_STATUS_SLACK_SECONDS } from '../lab/defaults.ts';
import { loadLab, parseLabSpec } from '../lab/load.ts';
import { distributionFindings, statusLines, survivorFindings, vipFindings, type Tally } from './loadbalancer.ts';
import { readFileSync } from 'node:fs';

const tally = (byMember: Record<string, number>, errors: string[] = [], strangers: string[] = []): Tally => ({
  byMember, errors, strangers, sent: Object.values(byMember).reduce((a, b) => a + b, 0) + errors.length + strangers.length,
});

describe('what the loadbalancer layer judges', () => {
  it('SOURCE_IP_PORT: every member answered, in any proportion; one that answered none is named', () => {
    expect(distributionFindings({ algorithm: 'SOURCE_IP_PORT' }, tally({ a: 37, b: 3 }), 'lb')).toEqual([]);
    expect(distributionFindings({ algorithm: 'SOURCE_IP_PORT' }, tally({ a: 40, b: 0 }), 'lb')).toEqual([
      'lb: member b answered none of 40 requests (a 40, b 0 (of 40))',
    ]);
  });

  it('ROUND_ROBIN: each member gets at least half its share; failed requests and strangers are findings', () => {
    expect(distributionFindings({ algorithm: 'ROUND_ROBIN' }, tally({ a: 20, b: 20 }), 'lb')).toEqual([]);
    expect(distributionFindings({ algorithm: 'ROUND_ROBIN' }, tally({ a: 35, b: 5 }), 'lb')[0]).toMatch(/ROUND_ROBIN gave member b 5 of 40/);
    const f = distributionFindings({ algorithm: 'ROUND_ROBIN' }, tally({ a: 19, b: 19 }, ['ECONNRESET'], ['<html>']), 'lb');
    expect(f).toEqual(['lb: 1 of 40 requests failed (ECONNRESET)', 'lb: 1 answers came from no member: <html>']);
  });

  it('after a failover only the survivors answer', () => {
    expect(survivorFindings(tally({ a: 40, b: 0 }), 'b', 'lb')).toEqual([]);
    expect(survivorFindings(tally({ a: 38, b: 2 }), 'b', 'lb')).toEqual(['lb: the stopped member b still answered 2 requests (a 38, b 2 (of 40))']);
  });

  it("the VIP lies in its tenant subnet and on none of the lab's VIPs", () => {
    const lab = loadLab('embedded-lb');
    expect(vipFindings(lab, { name: 'x', vip_address: '172.16.1.20' }, '172.16.1.0/24', false)).toEqual([]);
    expect(vipFindings(lab, { name: 'x', vip_address: '172.16.2.20' }, '172.16.1.0/24', false)).toEqual([
      'load balancer x: VIP 172.16.2.20 is outside its tenant subnet 172.16.1.0/24',
    ]);
    expect(vipFindings(lab, { name: 'x', vip_address: '10.0.2.250' }, '10.0.2.0/24', true)).toEqual([
      'load balancer x: VIP 10.0.2.250 is outside the floating range 10.0.2.100–10.0.2.199',
      'load balancer x: VIP 10.0.2.250 is the lab\'s VIP external (public.openstack.local)',
    ]);
  });

  it('names every object of the status tree with both statuses', () => {
    const ok = { provisioning_status: 'ACTIVE', operating_status: 'ONLINE' };
    const tree = {
      loadbalancer: {
        id: 'l', name: 'lb', ...ok,
        listeners: [{ id: 'li', name: 'li', ...ok, pools: [{ id: 'p', name: 'p', ...ok, health_monitor: { id: 'h', name: 'h', ...ok },
          members: [{ id: 'm', name: 'm', address: '172.16.1.5', protocol_port: 80, provisioning_status: 'ACTIVE', operating_status: 'ERROR' }] }] }],
      },
    };
    expect(statusLines(tree)).toEqual([
      'load balancer lb: ACTIVE/ONLINE', 'listener li: ACTIVE/ONLINE', 'pool p: ACTIVE/ONLINE', 'health monitor h: ACTIVE/ONLINE',
      'member m 172.16.1.5: ACTIVE/ERROR',
    ]);
  });
});

describe('the spec of a load balancer', () => {
  it("fills the provider's defaults: ovn balances TCP by SOURCE_IP_PORT, amphora HTTP by ROUND_ROBIN", () => {
    const ovn = loadBalancer(loadLab('embedded-lb'))!;
    expect(ovn).toMatchObject({ provider: 'ovn', algorithm: 'SOURCE_IP_PORT', protocol: 'TCP', port: 80, members: 2 });
    expect(ovn.failoverSeconds).toBe(3 * 2 + 2 + LB_STATUS_SLACK_SECONDS);
    expect(loadBalancer(loadLab('kolla-aio'))).toMatchObject({ provider: 'amphora', algorithm: 'ROUND_ROBIN', protocol: 'HTTP' });
    expect(loadBalancer(loadLab('embedded'))).toBeUndefined();
  });

  it("refuses what the ovn provider of Zed refuses, and a load balancer without Octavia, before anything runs", () => {
    const file = loadLab('embedded-lb').file;
    const text = readFileSync(file, 'utf8');
    const bad = text.replace('algorithm: SOURCE_IP_PORT\n  protocol: TCP', 'algorithm: ROUND_ROBIN\n  protocol: HTTP');
    expect(() => parseLabSpec(bad, file)).toThrow(/loadbalancer\/algorithm: the ovn provider takes only SOURCE_IP_PORT[\s\S]*protocol: the ovn provider takes TCP/);
    const noOctavia = text.replace('  octavia: { type: load-balancer, port: 9876 }\n', '');
    expect(() => parseLabSpec(noOctavia, file)).toThrow(/a load balancer needs a service of type load-balancer/);
  });
});
