import { expect, it } from 'vitest';
import { loadLab } from '../../../helpers/lab/load.ts';
import { octavia, octaviaConf } from '../openstack/octavia.ts';
import { openstackContext } from '../openstack/common.ts';
import { testContext } from '../testing.ts';
import { drillCatalogue } from './index.ts';
import { loadbalancerDrillsFor, withoutOvnProvider } from './loadbalancer.ts';

it('Octavia has its drills on the lab that runs it, and none elsewhere', () => {
  expect(loadbalancerDrillsFor(loadLab('embedded'))).toEqual([]);
  const names = drillCatalogue(loadLab('embedded-lb')).filter((d) => d.checks.some((c) => c.startsWith('lb.'))).map((d) => d.name);
  expect(names).toEqual([
    'lb-octavia-api-stopped', 'lb-driver-agent-stopped', 'lb-provider-not-enabled', 'lb-provider-stable-fixes-absent',
    'lb-member-port-closed',
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

it("both Octavia processes load the lab's fixes of the OVN provider before the provider", () => {
  const daemons = octavia.render!(testContext(loadLab('embedded-lb')));
  const ini = daemons.find((d) => d.service === 'octavia-api')!.files.find((f) => f.path.endsWith('-uwsgi.ini'))!;
  expect(ini.content).toMatch(/^import = octavia_ovn_fixes$/m);
  const agent = daemons.find((d) => d.service === 'octavia-driver-agent')!;
  const launcher = agent.files.find((f) => f.path === agent.argv[1])!;
  expect(launcher.content.indexOf('import octavia_ovn_fixes')).toBeLessThan(launcher.content.indexOf('driver_agent'));
  expect(agent.files.map((f) => f.path)).toContainEqual(expect.stringMatching(/octavia_ovn_fixes\.py$/));
});
