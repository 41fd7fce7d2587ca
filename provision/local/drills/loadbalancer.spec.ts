import { expect, it } from 'vitest';
import { loadLab } from '../../../helpers/lab/load.ts';
import { octaviaConf } from '../openstack/octavia.ts';
import { openstackContext } from '../openstack/common.ts';
import { testContext } from '../testing.ts';
import { drillCatalogue } from './index.ts';
import { loadbalancerDrillsFor, withoutOvnProvider } from './loadbalancer.ts';

it('Octavia has its drills on the lab that runs it, and none elsewhere', () => {
  expect(loadbalancerDrillsFor(loadLab('embedded'))).toEqual([]);
  const names = drillCatalogue(loadLab('embedded-lb')).filter((d) => d.checks.some((c) => c.startsWith('lb.'))).map((d) => d.name);
  expect(names).toEqual([
    'lb-octavia-api-stopped', 'lb-driver-agent-stopped', 'lb-provider-not-enabled', 'lb-member-port-closed',
    'lb-member-port-closed-while-down', 'lb-health-monitor-deleted',
  ]);
});

it('the provider drill leaves ovn out of the enabled drivers of the octavia.conf the lab renders', () => {
  const conf = octaviaConf(openstackContext(testContext(loadLab('embedded-lb'))));
  expect(conf).toContain('enabled_provider_drivers = ovn:The Octavia OVN driver\n');
  const faulty = withoutOvnProvider(conf);
  expect(faulty).not.toMatch(/^enabled_provider_drivers = .*ovn/m);
  expect(faulty).toContain('enabled_provider_drivers = amphora:The Octavia Amphora driver\ndefault_provider_driver = amphora\n');
});
