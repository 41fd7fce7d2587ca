import { expect } from 'vitest';
import { check } from '../../helpers/gate/check.ts';
import { catalogProblems, portClashes, vipListeners } from '../../helpers/lab/listeners.ts';
import { contains } from '../../helpers/net/ip.ts';

check('pre.dns-records', 'every DNS record points into the lab, served by DNS nodes, recursing for known networks', ({ lab, notApplicable }) => {
  const dns = lab.spec.dns;
  if (!dns) return notApplicable('the spec has no dns section');
  const problems = [
    ...lab.dnsRecords.filter((r) => !lab.networks.some((n) => contains(n.cidr, r.address))).map((r) => `record ${r.name} → ${r.address} (${r.what}) lies in no lab network`),
    ...dns.servers.filter((s) => !lab.node(s.node).roles.includes('dns')).map((s) => `DNS server node ${s.node} lacks the dns role`),
    ...(dns.recursion ?? []).filter((n) => !lab.networks.some((x) => x.name === n)).map((n) => `recursion is allowed for network ${n}, which the spec does not define`),
  ];
  expect(problems, `DNS of ${dns.domain}`).toEqual([]);
});

check('pre.catalog-endpoints', 'catalog endpoints sit on defined VIPs named in the DNS domain, one service per port', ({ lab, notApplicable }) => {
  if (Object.keys(lab.spec.services ?? {}).length === 0) return notApplicable('the spec lists no services');
  const clashes = portClashes(vipListeners(lab)).map((c) => `port ${c.port} on VIP ${c.on} is claimed by ${c.claimants.join(' and ')}`);
  expect([...catalogProblems(lab), ...clashes], 'catalog endpoints').toEqual([]);
});
