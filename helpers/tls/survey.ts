/** One verified handshake per TLS endpoint of a lab, made in parallel and shared by the checks of a file. */
import type { Lab } from '../lab/model.ts';
import { certFacts, chainPem } from './certificate.ts';
import { endpointLabel, tlsEndpoints, type TlsEndpoint } from './endpoints.ts';
import { handshake, labCa, type Handshake, type LabCa } from './probe.ts';

export interface Surveyed {
  readonly endpoint: TlsEndpoint;
  readonly handshake: Handshake;
}

export interface Survey {
  readonly ca: LabCa;
  /** The endpoints the spec demands TLS on, each with its handshake. */
  readonly results: readonly Surveyed[];
  /** Endpoints left out, with why (no TLS demanded, or not expected on this lab). */
  readonly left: readonly string[];
}

/** The endpoints where the spec demands TLS and the lab is expected to serve, and those left out with the reason. */
export function expectedTlsEndpoints(lab: Lab): { endpoints: TlsEndpoint[]; left: string[] } {
  const all = tlsEndpoints(lab);
  return {
    endpoints: all.filter((e) => e.tls && !e.notExpected),
    left: all
      .filter((e) => !e.tls || e.notExpected)
      .map((e) => `${endpointLabel(e)}: ${e.notExpected ?? `the spec demands no TLS there (tls.internal ${lab.tls.internal}, tls.external ${lab.tls.external})`}`),
  };
}

const surveys = new Map<string, Promise<Survey>>();

/** Handshakes with every expected TLS endpoint, verified against the lab CA alone; made once per lab and process. */
export function surveyCertificates(lab: Lab): Promise<Survey> {
  let survey = surveys.get(lab.file);
  if (!survey) {
    survey = (async () => {
      const ca = labCa(lab);
      const { endpoints, left } = expectedTlsEndpoints(lab);
      const results = await Promise.all(
        endpoints.map(async (endpoint) => ({ endpoint, handshake: await handshake(endpoint, { ca: ca.pem }) })),
      );
      return { ca, results, left };
    })();
    surveys.set(lab.file, survey);
  }
  return survey;
}

/** Each distinct certificate chain seen, as PEM (certificates only), named by its subject and the endpoints serving it. */
export function chainsSeen(results: readonly Surveyed[]): { name: string; pem: string }[] {
  const by = new Map<string, { chain: Handshake['chain']; endpoints: string[] }>();
  for (const r of results) {
    const leaf = r.handshake.chain[0];
    if (!leaf) continue;
    const key = r.handshake.chain.map((c) => c.fingerprint256).join('/');
    const entry = by.get(key) ?? { chain: r.handshake.chain, endpoints: [] };
    entry.endpoints.push(r.endpoint.id);
    by.set(key, entry);
  }
  return [...by.values()].map(({ chain, endpoints }) => ({
    name: `certificate ${certFacts(chain[0]!).subject} (${endpoints.join(', ')})`,
    pem: chainPem(chain),
  }));
}
