/**
 * What comes back by itself when a node boots, per deployer and init system: Kolla's containers (Docker's restart
 * policy before Kolla-Ansible 16, its systemd units kolla-<name>-container.service since), units enabled at boot on a
 * packages host (systemd, OpenRC), and the embedded lab's supervisor programs enabled at boot. Parsers and judges
 * are pure; the probes run over SSH. Never asserts.
 */
import type { Lab, LabNode } from '../lab/model.ts';
import { shellLine } from './quote.ts';
import type { NodeShell } from './ssh.ts';

export interface Container {
  readonly name: string;
  readonly state: string;
  /** Health status ('' when the container has no healthcheck). */
  readonly status: string;
  /** Docker's (or Podman's) restart policy; '' when none is set. */
  readonly restart: string;
}

interface Inspected {
  Name?: string;
  State?: { Status?: string; Running?: boolean; Health?: { Status?: string } };
  HostConfig?: { RestartPolicy?: { Name?: string } };
}

/** `docker inspect` (or `podman inspect`) of containers: the JSON array both print. */
export function parseInspect(json: string): Container[] {
  if (!json.trim()) return [];
  return (JSON.parse(json) as Inspected[]).map((c) => ({
    name: (c.Name ?? '').replace(/^\//, ''),
    // API versions before 1.21 had no State.Status, only Running.
    state: c.State?.Status ?? (c.State?.Running ? 'running' : 'exited'),
    status: c.State?.Health?.Status ?? '',
    restart: c.HostConfig?.RestartPolicy?.Name ?? '',
  }));
}

const engineOf = (lab: Lab) => (lab.deployer.containerEngine === 'podman' ? 'podman' : 'docker');

export async function containers(shell: NodeShell, lab: Lab): Promise<Container[]> {
  const e = engineOf(lab);
  return parseInspect(await shell.out(`${e} ps -aq | xargs -r ${e} inspect`));
}

/** Containers each role brings on a Kolla node: the ones whose absence means the role is not deployed there. */
export const KOLLA_ROLE_CONTAINERS: Readonly<Record<string, readonly string[]>> = {
  control: ['keystone', 'glance_api', 'nova_api', 'nova_scheduler', 'nova_conductor', 'placement_api', 'neutron_server', 'cinder_api', 'cinder_scheduler'],
  network: ['ovn_controller', 'openvswitch_vswitchd'],
  compute: ['nova_compute', 'nova_libvirt', 'ovn_controller', 'openvswitch_vswitchd'],
  storage: ['cinder_volume'],
  loadbalancer: ['haproxy', 'keepalived'],
  database: ['mariadb'],
  messaging: ['rabbitmq'],
  monitoring: ['prometheus_server'],
};

/** Every container a node's roles bring, named with the role that wants it, missing from `seen`. */
export function missingContainers(seen: readonly Container[], node: LabNode): string[] {
  const names = new Set(seen.map((c) => c.name));
  const missing = node.roles.flatMap((role) => (KOLLA_ROLE_CONTAINERS[role] ?? []).filter((n) => !names.has(n)).map((n) => `role ${role}: no container ${n}`));
  return [...new Set(missing)];
}

/** One unit as the probe reports it: its `systemctl is-enabled` state ('' when no such unit) and its Restart=. */
export interface UnitState {
  readonly unit: string;
  readonly enabled: string;
  readonly restart: string;
}

/** States of `systemctl is-enabled` under which a unit starts at boot (systemctl(1)); `static` ones are pulled in. */
const STARTS_AT_BOOT = new Set(['enabled', 'enabled-runtime', 'static', 'indirect', 'generated', 'alias', 'linked', 'linked-runtime']);

/**
 * Per unit, one line `unit<TAB>is-enabled state<TAB>Restart=`: `systemctl is-enabled` of several units prints nothing
 * for one it does not know (older systemd), which would shift every later line onto the wrong unit.
 */
export const unitProbe = (units: readonly string[]) =>
  `for u in ${shellLine([...units])}; do printf '%s\\t%s\\t%s\\n' "$u" "$(systemctl is-enabled "$u" 2>/dev/null)" ` +
  `"$(systemctl show -p Restart --value "$u" 2>/dev/null)"; done`;

export function parseUnitProbe(text: string): UnitState[] {
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      const [unit = '', enabled = '', restart = ''] = l.split('\t');
      // `is-enabled` prints one state word per unit (the last line when --full adds the targets).
      return { unit, enabled: enabled.trim().split('\n').pop() ?? '', restart: restart.trim() };
    });
}

export async function unitStates(shell: NodeShell, units: readonly string[]): Promise<UnitState[]> {
  return units.length ? parseUnitProbe(await shell.out(unitProbe(units))) : [];
}

/** A unit not started at boot, named with what was seen; undefined when it starts. */
export function notAtBoot(u: UnitState | undefined, unit: string): string | undefined {
  if (!u || !u.enabled || u.enabled === 'not-found') return `unit ${unit} does not exist`;
  return STARTS_AT_BOOT.has(u.enabled) ? undefined : `unit ${unit} is ${u.enabled} (not started at boot)`;
}

/** Kolla-Ansible 16 (2023.1) moved container restarts from Docker's restart policy to systemd units. */
export const kollaUsesSystemd = (lab: Lab) => Number.parseInt(lab.deployer.version ?? '99', 10) >= 16;
export const kollaUnit = (container: string) => `kolla-${container}-container.service`;

/** The units a Kolla node's boot rests on: the engine's daemon (Podman has none) and, since 16, one per container. */
export function kollaUnits(lab: Lab, seen: readonly Container[]): string[] {
  return [...(engineOf(lab) === 'docker' ? ['docker.service'] : []), ...(kollaUsesSystemd(lab) ? seen.map((c) => kollaUnit(c.name)) : [])];
}

/**
 * What will not come back when a Kolla node boots: a container its roles bring that is missing, the engine not
 * enabled, and per container its unit not enabled or not Restart=always (16 and later) or a Docker restart policy
 * other than unless-stopped/always (before 16).
 */
export function kollaBootFindings(lab: Lab, node: LabNode, seen: readonly Container[], units: readonly UnitState[]): string[] {
  const byUnit = new Map(units.map((u) => [u.unit, u]));
  const findings = missingContainers(seen, node).map((m) => `${m} that could come back after a reboot`);
  if (engineOf(lab) === 'docker') {
    const docker = notAtBoot(byUnit.get('docker.service'), 'docker.service');
    if (docker) findings.push(`${docker}: no container comes back after a reboot`);
  }
  for (const c of seen) {
    if (!kollaUsesSystemd(lab)) {
      if (!['unless-stopped', 'always'].includes(c.restart)) findings.push(`container ${c.name} has restart policy ${c.restart || 'none'}`);
      continue;
    }
    const unit = kollaUnit(c.name);
    const u = byUnit.get(unit);
    const off = notAtBoot(u, unit);
    if (off) findings.push(`container ${c.name}: ${off}`);
    else if (u?.restart !== 'always') findings.push(`container ${c.name}: unit ${unit} has Restart=${u?.restart || 'no'}, not always`);
  }
  return findings;
}

/**
 * systemd units of Debian 12's packages (as shipped: `dpkg -L <package>` on bookworm, see
 * fixtures/boot/README.md), per role, with the spec service that brings them (none: the role alone).
 */
export const DEBIAN_ROLE_UNITS: Readonly<Record<string, readonly { unit: string; service?: string }[]>> = {
  control: [
    { unit: 'keystone.service', service: 'keystone' }, { unit: 'glance-api.service', service: 'glance' },
    { unit: 'placement-api.service', service: 'placement' }, { unit: 'nova-api.service', service: 'nova' },
    { unit: 'nova-conductor.service', service: 'nova' }, { unit: 'nova-scheduler.service', service: 'nova' },
    { unit: 'neutron-api.service', service: 'neutron' }, { unit: 'neutron-rpc-server.service', service: 'neutron' },
    { unit: 'cinder-api.service', service: 'cinder' }, { unit: 'cinder-scheduler.service', service: 'cinder' },
  ],
  compute: [{ unit: 'nova-compute.service', service: 'nova' }, { unit: 'ovn-controller.service' }, { unit: 'ovs-vswitchd.service' }],
  network: [{ unit: 'ovn-controller.service' }, { unit: 'ovs-vswitchd.service' }],
  storage: [{ unit: 'cinder-volume.service', service: 'cinder' }],
  loadbalancer: [{ unit: 'haproxy.service' }, { unit: 'keepalived.service' }],
  database: [{ unit: 'mariadb.service' }],
  messaging: [{ unit: 'rabbitmq-server.service' }],
  dns: [{ unit: 'named.service' }],
  monitoring: [{ unit: 'prometheus.service' }],
};

/** The units the spec puts on a node of a Debian packages lab: its roles', for the services the spec has. */
export function debianUnits(lab: Lab, node: LabNode): string[] {
  const services = new Set(Object.keys(lab.spec.services ?? {}));
  const units = node.roles.flatMap((r) => DEBIAN_ROLE_UNITS[r] ?? []).filter((u) => !u.service || services.has(u.service));
  return [...new Set(units.map((u) => u.unit))];
}

/** Every expected unit that does not start at boot. Nothing expected on a node with roles proves nothing. */
export function unitBootFindings(node: LabNode, expected: readonly string[], seen: readonly UnitState[]): string[] {
  if (expected.length === 0) return [`no unit is known for roles ${node.roles.join(', ')}: nothing to judge`];
  const byUnit = new Map(seen.map((u) => [u.unit, u]));
  return expected.map((u) => notAtBoot(byUnit.get(u), u)).filter((f): f is string => f !== undefined);
}

/** `rc-update show [-v]`: each service with the runlevels it is in (none: in no runlevel, not started at boot). */
export function parseRcUpdateShow(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const m = /^\s*(\S+)\s*\|\s*(.*)$/.exec(line);
    if (m) out.set(m[1]!, m[2]!.trim().split(/\s+/).filter(Boolean));
  }
  return out;
}

/** OpenRC services that boot: in the boot, sysinit or default runlevel. */
export function openrcBootFindings(expected: readonly string[], runlevels: ReadonlyMap<string, readonly string[]>): string[] {
  return expected.flatMap((s) => {
    const levels = runlevels.get(s);
    if (levels === undefined) return [`service ${s} does not exist`];
    return levels.some((l) => ['boot', 'sysinit', 'default'].includes(l)) ? [] : [`service ${s} is in no boot runlevel (${levels.join(' ') || 'none'})`];
  });
}

/**
 * The embedded lab's boot (provider local): supervisor programs are its units (`[program:<node>-<service>]` in the
 * supervisord.conf its components render) and `boot/enabled.json` its enabled ones. A node's sessions name both files
 * (STACKGATE_SUPERVISOR_CONF, STACKGATE_BOOT_ENABLED), as a systemd host has its unit files where systemctl finds them.
 */
export const SUPERVISOR_PROBE = 'cat "$STACKGATE_SUPERVISOR_CONF" && echo "=== enabled" && cat "$STACKGATE_BOOT_ENABLED"';

export interface SupervisorBoot {
  readonly programs: readonly string[];
  readonly enabled: ReadonlySet<string>;
}

export function parseSupervisorBoot(text: string): SupervisorBoot {
  const [conf = '', enabled = '[]'] = text.split('\n=== enabled\n');
  const programs = [...conf.matchAll(/^\[program:([^\]]+)\]$/gm)].map((m) => m[1]!);
  return { programs, enabled: new Set(JSON.parse(enabled) as string[]) };
}

/** A program is a node's when its name is `<node>-…` for the longest node name that fits (node1 is not node10's). */
export function programsOf(lab: Lab, node: LabNode, programs: readonly string[]): string[] {
  const owner = (p: string) => [...lab.nodes].sort((a, b) => b.name.length - a.name.length).find((n) => p.startsWith(`${n.name}-`))?.name;
  return programs.filter((p) => owner(p) === node.name);
}

export function supervisorBootFindings(lab: Lab, node: LabNode, boot: SupervisorBoot): string[] {
  const mine = programsOf(lab, node, boot.programs);
  if (mine.length === 0) return ['no supervisor program of this node in the lab\'s supervisord.conf: nothing to judge'];
  return mine.filter((p) => !boot.enabled.has(p)).map((p) => `program ${p} is not enabled at boot (not in boot/enabled.json)`);
}

/** How a node's boot is judged: by the deployer, the init system the spec implies, or the embedded lab's supervisor. */
export type BootKind = 'kolla' | 'systemd' | 'openrc' | 'supervisor';

export function bootKind(lab: Lab): BootKind | undefined {
  if (lab.deployer.kind === 'kolla') return 'kolla';
  if (lab.deployer.kind !== 'packages') return undefined;
  if (lab.provider === 'local') return 'supervisor';
  return lab.deployer.baseDistro === 'alpine' ? 'openrc' : 'systemd';
}

/** Everything on one node that will not come back after a reboot. */
export async function bootFindings(shell: NodeShell, lab: Lab, node: LabNode, kind: BootKind): Promise<string[]> {
  switch (kind) {
    case 'kolla': {
      const seen = await containers(shell, lab);
      return kollaBootFindings(lab, node, seen, await unitStates(shell, kollaUnits(lab, seen)));
    }
    case 'systemd':
      return unitBootFindings(node, debianUnits(lab, node), await unitStates(shell, debianUnits(lab, node)));
    case 'openrc':
      // Alpine packages no OpenStack service: the names would be the install scripts' own, which stackgate does not know.
      return [`no OpenRC service name is known for roles ${node.roles.join(', ')}: nothing to judge`];
    case 'supervisor':
      return supervisorBootFindings(lab, node, parseSupervisorBoot(await shell.out(SUPERVISOR_PROBE)));
  }
}
