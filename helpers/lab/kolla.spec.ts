import { describe, expect, it } from 'vitest';
import { HAPROXY_MIN_TLS, imageArch, imagesAreAarch64, kollaHasStorageInterface, kollaImageFacts, kollaImageTag, kollaMajor, publishedImages } from './kolla.ts';

const published = (release: string, arch: string) => publishedImages(release)?.filter((p) => p.arch === arch).map((p) => p.distro).sort();

describe('kolla facts', () => {
  it('maps releases to Kolla-Ansible majors', () => {
    expect(kollaMajor('2025.2')).toBe(21);
    expect(kollaMajor('21.1.0')).toBe(21);
    expect(kollaMajor('Zed')).toBe(15);
    expect(kollaMajor(undefined)).toBeUndefined();
  });
  it('knows storage_interface went away in Zed, and the HAProxy TLS floors', () => {
    expect(kollaHasStorageInterface('14')).toBe(true);
    expect(kollaHasStorageInterface('21')).toBe(false);
    expect(HAPROXY_MIN_TLS.modern).toBe('TLSv1.3');
  });
  it('reads the image architecture from the tag suffix', () => {
    expect(imagesAreAarch64({ imageTagSuffix: '-aarch64' })).toBe(true);
    expect(imageArch({})).toBe('x86_64');
  });
  it('knows which images Kolla publishes: arm64 only for Debian in 2025.2, Ubuntu noble arm64 from 2026.1', () => {
    expect(published('2025.2', 'aarch64')).toEqual(['debian']);
    expect(published('2026.1', 'aarch64')).toEqual(['debian', 'ubuntu']);
    expect(published('2025.2', 'x86_64')).toEqual(['debian', 'rocky', 'ubuntu']);
    expect(publishedImages('2024.1')).toBeUndefined();
  });
  it('every published entry carries its tag as Kolla-Ansible computes it, and where upstream says so', () => {
    for (const p of kollaImageFacts().published) {
      expect(p.tag).toBe(kollaImageTag(p.release, p.distro, p.arch === 'aarch64' ? '-aarch64' : ''));
      expect(p.source.commit).toMatch(/^[0-9a-f]{40}$/);
      expect(p.source.path).toMatch(new RegExp(`^zuul\\.d/${p.distro}\\.yaml:\\d+$`));
    }
    expect(kollaImageTag('2025.2', 'ubuntu', '-aarch64')).toBe('2025.2-ubuntu-noble-aarch64');
  });
});
