/** compute.restart-policy on real output documents (fixtures/boot/README.md): Kolla, systemd, OpenRC, supervisor. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadLab, repoRoot } from '../lab/load.ts';
import type { Lab } from '../lab/model.ts';
import {
  debianUnits, kollaBootFindings, kollaUnit, kollaUnits, KOLLA_ROLE_CONTAINERS, openrcBootFindings, parseInspect, parseRcUpdateShow,
  parseSupervisorBoot, parseUnitProbe, supervisorBootFindings, unitBootFindings, type Container,
} from './boot.ts';

const upstream = readFileSync(`${repoRoot}/fixtures/boot/docker-inspect.json`, 'utf8');

/** The upstream document's container, as Kolla would have made it: its name, running, with the given policy. */
function kollaInspect(names: readonly string[], restart: string): string {
  const [doc] = JSON.parse(upstream) as Record<string, Record<string, unknown>>[];
  return JSON.stringify(names.map((name) => ({
    ...doc, Name: `/${name}`,
    State: { ...doc!.State, Status: 'running', Running: true },
    HostConfig: { ...doc!.HostConfig, RestartPolicy: { Name: restart, MaximumRetryCount: 0 } },
  })));
}

/** What unitProbe prints for each unit: `unit<TAB>is-enabled<TAB>Restart`. */
const probe = (rows: readonly [string, string, string][]) => rows.map((r) => r.join('\t')).join('\n');

describe('parseInspect: docker inspect JSON', () => {
  it('reads the upstream document: name without the slash, not running, restart policy no', () => {
    expect(parseInspect(upstream)).toEqual([{ name: 'adoring_wozniak', state: 'exited', status: '', restart: 'no' }]);
  });
  it('nothing inspected is no container', () => expect(parseInspect('')).toEqual([]));
});

describe('compute.restart-policy on Kolla-Ansible 16 and later (primary, 2025.2): systemd units per container', () => {
  const lab = loadLab('primary');
  const control = lab.nodesWithRole('control')[0]!;
  const names = [...new Set(control.roles.flatMap((r) => KOLLA_ROLE_CONTAINERS[r] ?? []))];
  // Kolla sets no engine restart policy since 16: the upstream document's `no` is what a healthy node shows.
  const seen = parseInspect(kollaInspect(names, 'no'));
  const healthy = probe([['docker.service', 'enabled', 'no'], ...names.map((n): [string, string, string] => [kollaUnit(n), 'enabled', 'always'])]);

  it('every container with its enabled Restart=always unit and Docker enabled passes', () => {
    expect(kollaUnits(lab, seen)).toEqual(['docker.service', ...names.map(kollaUnit)]);
    expect(kollaBootFindings(lab, control, seen, parseUnitProbe(healthy))).toEqual([]);
  });

  it('Docker disabled at boot fails, naming docker.service', () => {
    const units = parseUnitProbe(healthy.replace('docker.service\tenabled', 'docker.service\tdisabled'));
    expect(kollaBootFindings(lab, control, seen, units)).toEqual(['unit docker.service is disabled (not started at boot): no container comes back after a reboot']);
  });

  it('a container whose unit is disabled, missing or not Restart=always fails, naming container and unit', () => {
    const [a, b, c] = names;
    const units = parseUnitProbe(
      healthy.replace(`${kollaUnit(a!)}\tenabled`, `${kollaUnit(a!)}\tdisabled`).replace(`${kollaUnit(b!)}\tenabled\talways`, `${kollaUnit(b!)}\t\tno`)
        .replace(`${kollaUnit(c!)}\tenabled\talways`, `${kollaUnit(c!)}\tenabled\ton-failure`),
    );
    expect(kollaBootFindings(lab, control, seen, units)).toEqual([
      `container ${a}: unit ${kollaUnit(a!)} is disabled (not started at boot)`,
      `container ${b}: unit ${kollaUnit(b!)} does not exist`,
      `container ${c}: unit ${kollaUnit(c!)} has Restart=on-failure, not always`,
    ]);
  });

  it('a container the node\'s roles bring that is missing fails; zero containers fail for each of them', () => {
    expect(kollaBootFindings(lab, control, seen.slice(1), parseUnitProbe(healthy))).toEqual([`role control: no container ${names[0]} that could come back after a reboot`]);
    const none = kollaBootFindings(lab, control, [], parseUnitProbe(healthy));
    expect(none).toContain('role control: no container keystone that could come back after a reboot');
    expect(none.length).toBe(names.length);
  });
});

describe('compute.restart-policy before Kolla-Ansible 16: Docker restart policies', () => {
  const primary = loadLab('primary');
  const lab = Object.assign(Object.create(Object.getPrototypeOf(primary) as object) as Lab, primary, { deployer: { ...primary.deployer, version: '15' } });
  const control = lab.nodesWithRole('control')[0]!;
  const names = [...new Set(control.roles.flatMap((r) => KOLLA_ROLE_CONTAINERS[r] ?? []))];
  const dockerOn = parseUnitProbe(probe([['docker.service', 'enabled', 'no']]));

  it("asks systemd only about Docker, and passes Kolla's unless-stopped", () => {
    const seen = parseInspect(kollaInspect(names, 'unless-stopped'));
    expect(kollaUnits(lab, seen)).toEqual(['docker.service']);
    expect(kollaBootFindings(lab, control, seen, dockerOn)).toEqual([]);
  });

  it('restart policy no (the upstream document\'s) fails, naming the container', () => {
    const seen: Container[] = parseInspect(kollaInspect(names, 'unless-stopped')).map((c, i) => (i === 0 ? { ...c, restart: 'no' } : c));
    expect(kollaBootFindings(lab, control, seen, dockerOn)).toEqual([`container ${names[0]} has restart policy no`]);
  });
});

describe('compute.restart-policy on a Debian packages lab under systemd', () => {
  const embedded = loadLab('embedded');
  const compute = embedded.nodesWithRole('compute')[0]!;
  const units = debianUnits(embedded, compute);

  it("the node's roles bring Debian's units for the spec's services", () => {
    expect(units).toEqual(expect.arrayContaining(['nova-compute.service', 'ovn-controller.service']));
  });

  it('all enabled (or static) passes; a disabled or masked unit and an unknown one fail, by name', () => {
    const ok = probe(units.map((u): [string, string, string] => [u, u === 'ovn-controller.service' ? 'static' : 'enabled', 'on-failure']));
    expect(unitBootFindings(compute, units, parseUnitProbe(ok))).toEqual([]);
    const bad = ok.replace('nova-compute.service\tenabled', 'nova-compute.service\tdisabled').replace('ovn-controller.service\tstatic', 'ovn-controller.service\tmasked');
    expect(unitBootFindings(compute, units, parseUnitProbe(bad))).toEqual([
      'unit nova-compute.service is disabled (not started at boot)',
      'unit ovn-controller.service is masked (not started at boot)',
    ]);
    expect(unitBootFindings(compute, units, parseUnitProbe(ok.replace('nova-compute.service\tenabled', 'nova-compute.service\tnot-found')))).toEqual(['unit nova-compute.service does not exist']);
  });

  it('no unit known for the node proves nothing', () => {
    expect(unitBootFindings(compute, [], [])).toEqual([`no unit is known for roles ${compute.roles.join(', ')}: nothing to judge`]);
  });
});

describe('compute.restart-policy under OpenRC: rc-update show -v', () => {
  // As print_services prints it: " %26s |" and the runlevels the service is in (blanks for the others).
  const line = (s: string, levels: string) => ` ${s.padStart(26)} | ${levels}`;
  const show = [line('sshd', '     default'), line('ovn-controller', '             '), line('networking', 'boot        ')].join('\n');

  it('a service in a boot runlevel passes; one in none or missing fails', () => {
    const levels = parseRcUpdateShow(show);
    expect(levels.get('sshd')).toEqual(['default']);
    expect(openrcBootFindings(['sshd', 'networking'], levels)).toEqual([]);
    expect(openrcBootFindings(['ovn-controller', 'nova-compute'], levels)).toEqual([
      'service ovn-controller is in no boot runlevel (none)',
      'service nova-compute does not exist',
    ]);
  });
});

describe('compute.restart-policy on the embedded lab: supervisor programs and boot/enabled.json', () => {
  const lab = loadLab('embedded');
  const [first, second] = lab.nodes;
  const conf = `[supervisord]\nidentifier=x\n\n[program:${first!.name}-sshd]\ncommand=a\n\n[program:${first!.name}-keystone]\ncommand=b\n\n[program:${second!.name}-sshd]\ncommand=c\n`;
  const read = (enabled: readonly string[]) => parseSupervisorBoot(`${conf}\n=== enabled\n${JSON.stringify(enabled, null, 1)}\n`);
  const all = [`${first!.name}-keystone`, `${first!.name}-sshd`, `${second!.name}-sshd`];

  it("every program of the node enabled passes; one left out fails, naming it; another node's is not this node's", () => {
    expect(supervisorBootFindings(lab, first!, read(all))).toEqual([]);
    expect(supervisorBootFindings(lab, first!, read(all.filter((p) => p !== `${first!.name}-keystone`)))).toEqual([
      `program ${first!.name}-keystone is not enabled at boot (not in boot/enabled.json)`,
    ]);
    expect(supervisorBootFindings(lab, second!, read(all.slice(0, 2)))).toEqual([`program ${second!.name}-sshd is not enabled at boot (not in boot/enabled.json)`]);
  });

  it('a node with no program proves nothing', () => {
    expect(supervisorBootFindings(lab, lab.nodes[2]!, read(all))[0]).toMatch(/no supervisor program of this node/);
  });
});
