/** Facts about Kolla-Ansible that checks compare a design against (see shared facts, checked upstream). */

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

/**
 * The base distributions for which Kolla publishes aarch64 images, by Kolla-Ansible major version; undefined
 * when no fact is recorded. stable/2025.2 (21) publishes only Debian Bookworm arm64 images; Ubuntu noble arm64
 * publishing starts with 2026.1 (22).
 */
export function kollaAarch64Distros(major: number | undefined): readonly string[] | undefined {
  if (major === undefined || major < 21) return undefined;
  return major === 21 ? ['debian'] : ['debian', 'ubuntu'];
}

/** Kolla-Ansible enables cinder-backup by default (enable_cinder_backup) with this driver (cinder_backup_driver). */
export const KOLLA_CINDER_BACKUP_DEFAULT = { enabled: true, driver: 'ceph' } as const;
