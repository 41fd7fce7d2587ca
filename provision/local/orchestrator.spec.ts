import { describe, expect, test } from 'vitest';
import { loadLab } from '../../helpers/lab/load.ts';
import type { Component } from './component.ts';
import { COMPONENTS } from './components.ts';
import { plan } from './orchestrator.ts';

const lab = loadLab('embedded');
const names = (list: readonly Component[]) => list.map((c) => c.name);
const stub = (name: string, after: string[] = [], needed = true): Component => ({ name, after, needed: () => needed });

describe('the orchestrator walks what the spec needs, each component after the ones it names', () => {
  test('every component comes after the components it names', () => {
    const order = names(plan(lab, COMPONENTS));
    for (const c of plan(lab, COMPONENTS)) for (const a of c.after ?? []) if (order.includes(a)) expect(order.indexOf(a)).toBeLessThan(order.indexOf(c.name));
  });

  test('the embedded spec needs its cloud, Ceph and Horizon; embedded-infra only the infrastructure', () => {
    expect(names(plan(lab, COMPONENTS))).toEqual(expect.arrayContaining(['keystone', 'ceph-osd', 'nova-compute', 'horizon']));
    expect(names(plan(loadLab('embedded-infra'), COMPONENTS))).toEqual(['pki', 'hosts', 'sshd', 'node-exporter', 'bind', 'loadbalancer', 'prometheus']);
  });

  test('a component the spec does not need is skipped, and so is the order it would impose', () => {
    expect(names(plan(lab, [stub('b', ['a']), stub('a', [], false)]))).toEqual(['b']);
  });

  test('a new service is one more component: it lands after what it names, nothing else moves', () => {
    const before = names(plan(lab, COMPONENTS));
    const after = names(plan(lab, [...COMPONENTS, stub('octavia', ['keystone', 'neutron'])]));
    expect(after.filter((n) => n !== 'octavia')).toEqual(before);
    expect(after.indexOf('octavia')).toBeGreaterThan(after.indexOf('neutron'));
  });

  test('components that wait on each other, or on a name that is no component, are refused by name', () => {
    expect(() => plan(lab, [stub('a', ['b']), stub('b', ['a'])])).toThrow(/a → b → a wait on each other/);
    expect(() => plan(lab, [stub('a', ['nova-compte'])])).toThrow(/component a comes after nova-compte, which is no component/);
  });
});
