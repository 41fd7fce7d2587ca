import { expect } from 'vitest';
import { check } from '../../helpers/gate/check.ts';
import { HAPROXY_MIN_TLS } from '../../helpers/lab/kolla.ts';

check('pre.tls-everywhere', 'TLS is demanded on the internal and the external endpoints', ({ lab, notApplicable }) => {
  if (!lab.spec.tls) return notApplicable('the spec has no tls section');
  const kolla = lab.deployer.kind === 'kolla';
  const off = (['internal', 'external'] as const)
    .filter((side) => !lab.tls[side])
    .map(
      (side) =>
        `tls.${side} is false: ${side} API traffic would be plain HTTP` +
        (kolla ? ` — Kolla-Ansible leaves kolla_enable_tls_${side} off by default${side === 'external' ? ' when the internal and external VIPs differ' : ''}, so the spec must demand it` : ''),
    );
  expect(off, 'TLS everywhere').toEqual([]);
});

check('pre.tls-min-version', "the TLS floor matches Kolla's kolla_haproxy_ssl_settings", ({ lab, notApplicable }) => {
  if (lab.deployer.kind !== 'kolla') return notApplicable(`the deployer is ${lab.deployer.kind}: kolla_haproxy_ssl_settings does not apply`);
  if (!lab.spec.tls) return notApplicable('the spec has no tls section');
  const settings = lab.deployer.haproxySslSettings ?? 'modern';
  expect(
    lab.tls.minVersion,
    `tls.minVersion is ${lab.tls.minVersion}, but kolla_haproxy_ssl_settings "${settings}"${lab.deployer.haproxySslSettings ? '' : " (Kolla's default)"} ` +
      `makes HAProxy accept ${HAPROXY_MIN_TLS[settings]} and newer: set the two consistently (modern = TLS 1.3 only, intermediate = TLS 1.2+)`,
  ).toBe(HAPROXY_MIN_TLS[settings]);
});
