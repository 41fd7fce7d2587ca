import { describe, expect, it } from 'vitest';
import { HAPROXY_MIN_TLS, imagesAreAarch64, kollaAarch64Distros, kollaHasStorageInterface, kollaMajor } from './kolla.ts';

describe('kolla facts', () => {
  it('maps releases to Kolla-Ansible majors', () => {
    expect(kollaMajor('2025.2')).toBe(21);
    expect(kollaMajor('21.1.0')).toBe(21);
    expect(kollaMajor('Zed')).toBe(15);
    expect(kollaMajor(undefined)).toBeUndefined();
  });
  it('knows storage_interface went away in Zed', () => {
    expect(kollaHasStorageInterface('14')).toBe(true);
    expect(kollaHasStorageInterface('21')).toBe(false);
  });
  it('knows which distributions have aarch64 images', () => {
    expect(imagesAreAarch64({ imageTagSuffix: '-aarch64' })).toBe(true);
    expect(imagesAreAarch64({})).toBe(false);
    expect(kollaAarch64Distros(21)).toEqual(['debian']);
    expect(kollaAarch64Distros(22)).toContain('ubuntu');
    expect(kollaAarch64Distros(20)).toBeUndefined();
    expect(HAPROXY_MIN_TLS.modern).toBe('TLSv1.3');
  });
});
