/** Planted faults for the node-level checks that no drill of the embedded lab can reach (Kolla only, LVM only). */
import { describe, expect, it } from 'vitest';
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
