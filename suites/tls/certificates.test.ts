import { expect } from 'vitest';
import { check, type CheckContext } from '../../helpers/gate/check.ts';
import { daysLeft, describeCert, groupFindings, sanCovers } from '../../helpers/tls/certificate.ts';
import { endpointLabel } from '../../helpers/tls/endpoints.ts';
import { chainsSeen, surveyCertificates, type Surveyed } from '../../helpers/tls/survey.ts';

/** The handshakes with every TLS endpoint of the spec, the chains seen attached to the check. */
async function surveyed({ lab, attach, notApplicable }: CheckContext) {
  const survey = await surveyCertificates(lab);
  if (survey.results.length === 0) notApplicable(`the spec demands TLS on no endpoint (tls.internal ${lab.tls.internal}, tls.external ${lab.tls.external})`);
  for (const chain of chainsSeen(survey.results)) await attach(chain.name, chain.pem);
  if (survey.left.length) await attach('endpoints left out', survey.left.join('\n'));
  return survey;
}

const now = () => new Date();
const seen = ({ handshake: h }: Surveyed) => `${describeCert(h.chain[0]!, now())}, ${h.protocol}`;
const noHandshake = ({ endpoint, handshake: h }: Surveyed) => ({
  subject: endpointLabel(endpoint),
  problem: `no TLS handshake with ${endpoint.address}:${endpoint.port} (${h.failure!.code}: ${h.failure!.message})`,
});

check('tls.chain-lab-ca', 'every TLS endpoint presents a chain that verifies against the lab CA alone', async (ctx) => {
  const { ca, results } = await surveyed(ctx);
  const untrusted = results.flatMap((r) => {
    if (!r.handshake.completed) return [noHandshake(r)];
    if (!r.handshake.chainError) return [];
    return [{ subject: endpointLabel(r.endpoint), problem: `chain does not verify against the lab CA ${ca.file} (${r.handshake.chainError}) — ${seen(r)}` }];
  });
  expect(groupFindings(untrusted), 'endpoints whose certificate the lab CA does not vouch for').toEqual([]);
});

check('tls.san-covers-host', "every TLS endpoint's certificate names the host clients use in its subjectAltName", async (ctx) => {
  const { results } = await surveyed(ctx);
  const uncovered = results.flatMap((r) => {
    if (!r.handshake.completed) return [noHandshake(r)];
    if (sanCovers(r.handshake.chain[0]!, r.endpoint.host) && !r.handshake.identityError) return [];
    return [{ subject: endpointLabel(r.endpoint), problem: `SAN does not cover ${r.endpoint.host} — ${seen(r)}` }];
  });
  expect(groupFindings(uncovered), 'endpoints whose certificate does not name their host').toEqual([]);
});

check('tls.validity-days', "every certificate a TLS endpoint presents is valid now and for the spec's minimum days", async (ctx) => {
  const { results } = await surveyed(ctx);
  const min = ctx.lab.tls.minDaysValid;
  const short = results.flatMap((r) => {
    if (!r.handshake.completed) return [noHandshake(r)];
    return r.handshake.chain.flatMap((cert, i) => {
      const which = i === 0 ? 'the leaf' : `chain certificate ${i}`;
      const problems: string[] = [];
      if (Date.parse(cert.validFrom) > Date.now()) problems.push(`${which} is not valid before ${new Date(cert.validFrom).toISOString()}`);
      if (daysLeft(cert, now()) < min) problems.push(`${which} expires ${new Date(cert.validTo).toISOString()}, under the ${min} days the spec demands`);
      return problems.map((p) => ({ subject: endpointLabel(r.endpoint), problem: `${p} — ${describeCert(cert, now())}, ${r.handshake.protocol}` }));
    });
  });
  expect(groupFindings(short), `endpoints with a certificate valid for less than ${min} more days`).toEqual([]);
});
