/** Planted faults for the node-level checks that no drill of the embedded lab can reach (Kolla only, LVM only). */
import { describe, expect, it } from 'vitest';
import { loadLab } from '../lab/load.ts';
import { KOLLA_ROLE_CONTAINERS, restartFindings, type Container } from './host.ts';
import { listenerFindings, listeningAddresses } from './net.ts';

describe('storage.iscsi-target: the target listens on the storage address, and only there', () => {
  const ss = (...local: string[]) => local.map((a) => `LISTEN 0      256    ${a}      0.0.0.0:*`).join('\n');

  it('passes on the storage address alone', () => {
    expect(listenerFindings('iSCSI target', '10.0.3.11', 3260, listeningAddresses(ss('10.0.3.11:3260')))).toEqual([]);
  });

  it.each(['0.0.0.0:3260', '*:3260', '[::]:3260'])('refuses the wildcard listener %s, alone or beside the right one', (wildcard) => {
    const alone = listenerFindings('iSCSI target', '10.0.3.11', 3260, listeningAddresses(ss(wildcard)));
    expect(alone).toEqual([`no iSCSI target on 10.0.3.11:3260 (listening: ${wildcard})`, `iSCSI target listens on ${wildcard}: every network of the node, not only 10.0.3.11`]);
    expect(listenerFindings('iSCSI target', '10.0.3.11', 3260, listeningAddresses(ss('10.0.3.11:3260', wildcard)))).toHaveLength(1);
  });

  it('names the address it wanted when the target listens on another network', () => {
    expect(listenerFindings('iSCSI target', '10.0.3.11', 3260, listeningAddresses(ss('192.168.10.11:3260')))[0]).toBe('no iSCSI target on 10.0.3.11:3260 (listening: 192.168.10.11:3260)');
  });
});

describe('compute.restart-policy: zero containers prove nothing', () => {
  const lab = loadLab('primary');
  const control = lab.nodesWithRole('control')[0]!;
  const running = (restart: string): Container[] =>
    [...new Set(control.roles.flatMap((r) => KOLLA_ROLE_CONTAINERS[r] ?? []))].map((name) => ({ name, state: 'running', status: 'healthy', restart }));

  it('a node without containers fails, naming each container its roles bring', () => {
    const findings = restartFindings([], control);
    expect(findings).toContain('role control: no container keystone whose restart policy could be judged');
    expect(findings.length).toBeGreaterThanOrEqual((KOLLA_ROLE_CONTAINERS.control ?? []).length);
  });

  it("every container of the node's roles with Kolla's policy passes; one with none fails", () => {
    expect(restartFindings(running('unless-stopped'), control)).toEqual([]);
    const [first, ...rest] = running('unless-stopped');
    expect(restartFindings([{ ...first!, restart: 'no' }, ...rest], control)).toEqual([`${first!.name} has restart policy no`]);
  });
});
