import { expect } from 'vitest';
import { check } from '../../helpers/gate/check.ts';
import { endpointLabel, tlsEndpoints } from '../../helpers/tls/endpoints.ts';
import { notOnlyRedirect, plainHttp, preview, servedOverCleartext } from '../../helpers/tls/probe.ts';
import { expectedTlsEndpoints } from '../../helpers/tls/survey.ts';

check('tls.plain-http-refused', 'no TLS port serves plain HTTP, and port 80 of a TLS VIP only redirects to https', async ({ lab, attach, notApplicable }) => {
  const { endpoints } = expectedTlsEndpoints(lab);
  if (endpoints.length === 0) return notApplicable(`the spec demands TLS on no endpoint (tls.internal ${lab.tls.internal}, tls.external ${lab.tls.external})`);
  // Port 80 of every VIP that terminates TLS, unless the spec itself serves cleartext there.
  const cleartext80 = new Set(tlsEndpoints(lab).filter((e) => e.port === 80 && !e.tls).map((e) => e.vip));
  const vips = lab.vips.filter((v) => endpoints.some((e) => e.vip === v.name) && !cleartext80.has(v.name));

  const [onTls, on80] = await Promise.all([
    Promise.all(endpoints.map((e) => plainHttp(e))),
    Promise.all(vips.map((v) => plainHttp({ address: v.address, port: 80, host: v.host }))),
  ]);
  await attach('cleartext requests', [...onTls, ...on80].map((a) => `${a.target.host}:${a.target.port} GET ${a.path}: ${a.connected ? `connected, got ${preview(a.head)}` : `not connected (${a.error})`}`).join('\n'));

  const served = [
    ...onTls.flatMap((a, i) => {
      const problem = servedOverCleartext(a);
      return problem ? [`${endpointLabel(endpoints[i]!)}: TLS port ${problem}`] : [];
    }),
    ...on80.flatMap((a, i) => {
      const problem = notOnlyRedirect(a);
      return problem ? [`${a.target.host}:80 (VIP ${vips[i]!.name} ${a.target.address}): ${problem}`] : [];
    }),
  ];
  expect(served, 'ports that serve plain HTTP').toEqual([]);
});
