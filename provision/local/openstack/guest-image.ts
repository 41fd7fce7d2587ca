/** The guest image the checks boot, in Glance. */
import { readFileSync } from 'node:fs';
import type { Lab } from '../../../helpers/lab/model.ts';
import { viaVip } from '../api.ts';
import type { Component, Condition, ReadyContext } from '../component.ts';
import { adminApi, guestsRun, hasService } from './common.ts';
import { buildGuestImage, ensureGuestImage, GUEST_PACKAGES } from './guest/build.ts';

interface BootImage {
  readonly status: string;
  readonly kernel_id?: string;
  readonly ramdisk_id?: string;
}

const wanted = (lab: Lab) => (guestsRun(lab) && hasService(lab, 'glance') ? lab.spec.compute?.guestImage : undefined);

function imageActive({ lab, cloud }: ReadyContext): Condition[] {
  const image = wanted(lab);
  if (!image) return [];
  return [{
    what: `guest image ${image.name} active in Glance`,
    probe: async () => {
      const path = `/v2/images?name=${encodeURIComponent(image.name)}`;
      const api = await cloud();
      const found = (await api.get<{ images: BootImage[] }>('image', path)).body.images;
      const active = found.find((i) => i.status === 'active');
      if (!active) return `images named ${image.name}: ${found.map((i) => i.status).join(', ') || 'none'}`;
      // What Nova boots directly must be there too, or the first boot fails where the fifth would not.
      for (const part of ['kernel_id', 'ramdisk_id'] as const) {
        const id = active[part];
        if (!id) continue;
        const got = await api.get<BootImage>('image', `/v2/images/${encodeURIComponent(id)}`)
          .then((r) => r.body.status, (e: Error) => e.message);
        if (got !== 'active') return `${image.name}'s ${part} ${id}: ${got}`;
      }
      return true;
    },
  }];
}

/** The guest image the checks boot: built from Debian packages once, uploaded to Glance under the spec's name. */
export const guestImage: Component = {
  name: 'guest-image',
  after: ['glance'],
  needed: (lab) => !!wanted(lab),
  packages: () => GUEST_PACKAGES,
  configure: async (c) => {
    const { lab, paths } = c;
    const name = wanted(lab)!.name;
    await c.step(`${name} (built from Debian packages, in Glance)`, async () => {
      const image = await buildGuestImage(paths.root);
      const api = await adminApi(c);
      return ensureGuestImage({ glance: viaVip(lab, 'glance'), token: api.token, ca: readFileSync(paths.caCert, 'utf8'), name, image });
    });
  },
  ready: imageActive,
};
