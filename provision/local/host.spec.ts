import { describe, expect, test } from 'vitest';
import { AptProgress } from './host.ts';

describe("apt-get's progress as a person reads it", () => {
  test('counts downloads, then unpacking, then setting up, out of the total apt announces', () => {
    const p = new AptProgress();
    expect(p.state()).toBe('resolving dependencies');
    expect(p.feed('0 upgraded, 3 newly installed, 0 to remove and 4 not upgraded.')).toBe('3 packages to install');
    expect(p.feed('Get:1 http://deb.debian.org/debian bookworm/main amd64 a 1.0 [10 kB]')).toBe('downloading packages: 1 of 3');
    expect(p.feed('Reading database ...')).toBeUndefined();
    expect(p.feed('Unpacking a (1.0) ...')).toBe('unpacking packages: 1 of 3');
    expect(p.feed('Setting up a (1.0) ...')).toBe('setting up packages: 1 of 3');
  });

  test('upgrades count towards the total; an unknown total is shown as such', () => {
    expect(new AptProgress().feed('2 upgraded, 5 newly installed, 0 to remove and 0 not upgraded.')).toBe('7 packages to install');
    expect(new AptProgress().feed('Unpacking b (2) ...')).toBe('unpacking packages: 1 of ?');
  });
});
