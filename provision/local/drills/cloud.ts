/**
 * Fault drills that go through the cloud's own API: a catalog endpoint switched to http. The revert restores the
 * scheme the spec says, so it needs no memory of the inject.
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

export const cloudDrillsFor = (lab: Lab): Drill[] => [catalogHttp, endpointDisabled(lab)].filter((d) => d !== undefined);
