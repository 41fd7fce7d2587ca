/** Facts about Kolla-Ansible that checks compare a design against (see shared facts, checked upstream). */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const FACTS = fileURLToPath(new URL('../../fixtures/kolla/images-published.json', import.meta.url));

/** Kolla-Ansible's major version for an OpenStack release name or number. */
const KOLLA_MAJOR: Record<string, number> = {
  zed: 15, '2023.1': 16, '2023.2': 17, '2024.1': 18, '2024.2': 19, '2025.1': 20, '2025.2': 21, '2026.1': 22,
};

export function kollaMajor(versionOrRelease: string | undefined): number | undefined {
  if (!versionOrRelease) return undefined;
  const known = KOLLA_MAJOR[versionOrRelease.toLowerCase()];
  if (known) return known;
  const major = Number.parseInt(versionOrRelease, 10);
  return Number.isFinite(major) ? major : undefined;
}

/** storage_interface was removed in Kolla-Ansible 15.0.0 (Zed). */
export function kollaHasStorageInterface(version: string | undefined): boolean {
  const major = kollaMajor(version);
  return major !== undefined && major < 15;
}

/** The lowest TLS version HAProxy accepts under each kolla_haproxy_ssl_settings value (default: modern). */
export const HAPROXY_MIN_TLS = { modern: 'TLSv1.3', intermediate: 'TLSv1.2', legacy: 'TLSv1' } as const;

/** Kolla's base distribution when globals.yml sets none (kolla_base_distro). */
export const KOLLA_DEFAULT_DISTRO = 'rocky';

/** True when the deployer pulls aarch64 images (the image tag carries the architecture). */
export function imagesAreAarch64(deployer: { imageTagSuffix?: string }): boolean {
  return /aarch64|arm64/.test(deployer.imageTagSuffix ?? '');
}

export type ImageArch = 'x86_64' | 'aarch64';

export function imageArch(deployer: { imageTagSuffix?: string }): ImageArch {
  return imagesAreAarch64(deployer) ? 'aarch64' : 'x86_64';
}

export interface Provenance {
  readonly repository: string;
  readonly branch: string;
  readonly commit: string;
  readonly path: string;
}

export interface PublishedImages {
  readonly release: string;
  readonly distro: string;
  readonly distroVersion: string;
  readonly arch: ImageArch;
  readonly tag: string;
  readonly job: string;
  readonly source: Provenance;
}

export interface KollaImageFacts {
  readonly registry: string;
  readonly namespace: string;
  readonly distroVersions: Record<string, { versions: Record<string, string>; source: Provenance }>;
  readonly published: readonly PublishedImages[];
}

let imageFacts: KollaImageFacts | undefined;

/** fixtures/kolla/images-published.json: what openstack/kolla publishes, read from its zuul jobs (with provenance). */
export function kollaImageFacts(): KollaImageFacts {
  imageFacts ??= JSON.parse(readFileSync(FACTS, 'utf8')) as KollaImageFacts;
  return imageFacts;
}

/**
 * The tag Kolla-Ansible pulls (openstack_tag: release-distro-distroVersion plus openstack_tag_suffix); undefined
 * when the fact table records no distribution versions for the release.
 */
export function kollaImageTag(release: string, distro: string, suffix = ''): string | undefined {
  const version = kollaImageFacts().distroVersions[release]?.versions[distro];
  return version === undefined ? undefined : `${release}-${distro}-${version}${suffix}`;
}

/** The images Kolla publishes for a release; undefined when the fact table has nothing on it. */
export function publishedImages(release: string): readonly PublishedImages[] | undefined {
  const facts = kollaImageFacts();
  if (!facts.distroVersions[release]) return undefined;
  return facts.published.filter((p) => p.release === release);
}

/** deployer.images.source, with the schema's default. */
export function imagesSource(deployer: { images?: { source: 'published' | 'build' } }): 'published' | 'build' {
  return deployer.images?.source ?? 'published';
}

/** deployer.images.registryPort's default (the schema's): Kolla's multinode guide, clear of Keystone's 5000. */
export const KOLLA_REGISTRY_PORT = 4000;

/** Kolla-Ansible enables cinder-backup by default (enable_cinder_backup) with this driver (cinder_backup_driver). */
export const KOLLA_CINDER_BACKUP_DEFAULT = { enabled: true, driver: 'ceph' } as const;
