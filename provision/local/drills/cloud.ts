/**
 * Fault drills that go through the cloud's own API: a catalog endpoint switched to http, or to the other interface's
 * host name. The revert restores what the spec says, so it needs no memory of the inject.
 */
import type { Lab } from '../../../helpers/lab/model.ts';
import type { Cloud } from '../../../helpers/openstack/cloud.ts';
import { withCloud, type Drill } from './drill.ts';

interface Endpoint {
  id: string;
  interface: string;
  url: string;
  service_id: string;
}

/** The image service's internal endpoint: any service would do; this one no other drill touches. */
async function imageInternal(c: Cloud): Promise<Endpoint | undefined> {
  const services = (await c.get<{ services: { id: string; type: string }[] }>('identity', '/v3/services?type=image')).body.services;
  if (!services[0]) return undefined;
  return (await c.get<{ endpoints: Endpoint[] }>('identity', `/v3/endpoints?service_id=${services[0].id}&interface=internal`)).body.endpoints[0];
}

const setUrl = (c: Cloud, e: Endpoint, url: string) => c.request('identity', 'PATCH', `/v3/endpoints/${e.id}`, { body: { endpoint: { url } } });

const catalogHttp: Drill = {
  name: 'tls-catalog-endpoint-http',
  description: "the image service's internal catalog endpoint switched from https to http",
  decisions: ['TLS-01'],
  checks: ['tls.catalog-https'],
  object: 'http://',
  async inject(lab) {
    await withCloud(lab, async (c) => {
      const e = await imageInternal(c);
      if (e?.url.startsWith('https://')) await setUrl(c, e, e.url.replace(/^https:/, 'http:'));
    });
  },
  async revert(lab) {
    await withCloud(lab, async (c) => {
      const e = await imageInternal(c);
      const want = lab.expectedCatalog.find((x) => x.type === 'image' && x.interface === 'internal');
      if (e && want && !e.url.startsWith(`${want.scheme}://`)) await setUrl(c, e, e.url.replace(/^https?:/, `${want.scheme}:`));
    });
  },
};

/** A service's endpoint of one interface, from Keystone's endpoint list. */
async function endpointOf(c: Cloud, type: string, iface: string): Promise<Endpoint | undefined> {
  const services = (await c.get<{ services: { id: string }[] }>('identity', `/v3/services?type=${type}`)).body.services;
  if (!services[0]) return undefined;
  return (await c.get<{ endpoints: Endpoint[] }>('identity', `/v3/endpoints?service_id=${services[0].id}&interface=${iface}`)).body.endpoints[0];
}

/**
 * The identity service's internal endpoint under the public host name; revert puts the spec's internal host back.
 * Identity, because the services find Keystone through their own configuration: the cloud keeps working, only the
 * catalog is wrong (an internal image or placement endpoint there would also stop nova-compute).
 */
function internalAtPublicHost(lab: Lab): Drill | undefined {
  const internal = lab.expectedCatalog.find((x) => x.type === 'identity' && x.interface === 'internal');
  const publicHost = lab.expectedCatalog.find((x) => x.type === 'identity' && x.interface === 'public')?.host;
  if (!internal || !publicHost || publicHost === internal.host) return undefined;
  const withHost = (url: string, host: string) => url.replace(`//${new URL(url).hostname}`, `//${host}`);
  const setHost = (host: string) =>
    withCloud(lab, async (c) => {
      const e = await endpointOf(c, 'identity', 'internal');
      if (e && new URL(e.url).hostname !== host) await setUrl(c, e, withHost(e.url, host));
    });
  return {
    name: 'dns-catalog-internal-at-external-fqdn',
    description: `the identity service's internal catalog endpoint names the external FQDN (${publicHost}) instead of ${internal.host}`,
    decisions: ['DNS-03', 'CMP-02'],
    checks: ['dns.catalog-names', 'compute.catalog-services'],
    object: publicHost,
    inject: () => setHost(publicHost),
    revert: () => setHost(internal.host),
  };
}

/** The block-storage service's public endpoint: the compute layer itself never calls it. */
async function volumePublic(c: Cloud, type: string): Promise<(Endpoint & { enabled: boolean }) | undefined> {
  const services = (await c.get<{ services: { id: string }[] }>('identity', `/v3/services?type=${type}`)).body.services;
  if (!services[0]) return undefined;
  return (await c.get<{ endpoints: (Endpoint & { enabled: boolean })[] }>('identity', `/v3/endpoints?service_id=${services[0].id}&interface=public`)).body.endpoints[0];
}

function endpointDisabled(lab: Lab): Drill | undefined {
  const type = lab.expectedCatalog.find((e) => e.service === 'cinder' && e.interface === 'public')?.type;
  if (!type) return undefined;
  const setEnabled = (enabled: boolean) =>
    withCloud(lab, async (c) => {
      const e = await volumePublic(c, type);
      if (e && e.enabled !== enabled) await c.request('identity', 'PATCH', `/v3/endpoints/${e.id}`, { body: { endpoint: { enabled } } });
    });
  return {
    name: 'catalog-endpoint-disabled',
    description: `the public endpoint of the block-storage service (${type}) disabled in Keystone: it drops out of the catalog`,
    decisions: ['CMP-02', 'CMP-01'],
    checks: ['compute.catalog-services', 'compute.token-accepted'],
    object: `${type}`,
    inject: () => setEnabled(false),
    revert: () => setEnabled(true),
  };
}

export const cloudDrillsFor = (lab: Lab): Drill[] => [catalogHttp, internalAtPublicHost(lab), endpointDisabled(lab)].filter((d) => d !== undefined);
