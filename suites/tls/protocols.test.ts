import { expect } from 'vitest';
import { check } from '../../helpers/gate/check.ts';
import { describeCert, groupFindings } from '../../helpers/tls/certificate.ts';
import { endpointLabel } from '../../helpers/tls/endpoints.ts';
import { labCa, offerProtocol, protocolOutcome, versionsBelow, type Handshake } from '../../helpers/tls/probe.ts';
import { expectedTlsEndpoints } from '../../helpers/tls/survey.ts';

const why = (h: Handshake) => (h.failure ? `${h.failure.code}: ${h.failure.message.split('\n')[0]}` : `negotiated ${h.protocol}`);

check('tls.old-protocols-refused', "every TLS endpoint refuses each protocol below the spec's minimum and accepts the minimum", async ({ lab, attach, notApplicable }) => {
  const { endpoints } = expectedTlsEndpoints(lab);
  if (endpoints.length === 0) return notApplicable(`the spec demands TLS on no endpoint (tls.internal ${lab.tls.internal}, tls.external ${lab.tls.external})`);
  const ca = labCa(lab).pem;
  const min = lab.tls.minVersion;
  const probes = await Promise.all(
    endpoints.flatMap((e) => [...versionsBelow(min), min].map(async (version) => ({ e, version, h: await offerProtocol(e, version, ca) }))),
  );
  await attach('protocol probes', probes.map(({ e, version, h }) => `${e.id} ${version}: ${protocolOutcome(h)} (${why(h)})`).join('\n'));

  const findings = probes.flatMap(({ e, version, h }) => {
    const outcome = protocolOutcome(h);
    const subject = endpointLabel(e);
    if (version === min) return outcome === 'accepted' ? [] : [{ subject, problem: `the minimum ${min} is not accepted (${outcome}, ${why(h)})` }];
    if (outcome === 'refused') return [];
    if (outcome === 'accepted') return [{ subject, problem: `${version} is accepted (below the minimum ${min}): negotiated ${h.protocol} with ${h.cipher} — ${describeCert(h.chain[0]!, new Date())}` }];
    return [{ subject, problem: `offering ${version} proved nothing (${outcome}, ${why(h)})` }];
  });
  expect(groupFindings(findings), `endpoints that do not hold the TLS floor ${min}`).toEqual([]);
});
