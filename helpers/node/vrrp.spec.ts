import { describe, expect, it } from 'vitest';
import { parseVrrpOutput, vrrpCommand } from './vrrp.ts';
import { loadLab } from '../lab/load.ts';

/** What the node script prints: per keepalived its pid, then only the picked lines of keepalived 2.2's data dump. */
const printed = `#keepalived 22622
 VRRP Instance = embedded_vip_51
   State = MASTER
   Virtual Router ID = 51
   Virtual IP (2):
     192.168.105.250/24 dev eth0 scope global set
     10.0.2.250/24 dev eth2 scope global set
#keepalived 3100
#unreadable keepalived wrote no data dump to /proc/3100/root/tmp/keepalived.data within 3 s
`;

describe("keepalived's VRRP state", () => {
  it('reads each instance with its state, router ID and virtual addresses', () => {
    expect(parseVrrpOutput(printed)[0]).toEqual({
      pid: 22622,
      instances: [{ name: 'embedded_vip_51', state: 'MASTER', vrid: 51, addresses: ['192.168.105.250', '10.0.2.250'] }],
    });
  });

  it('reads every instance of a keepalived with several (a VIP pair per service)', () => {
    const two = '#keepalived 41\n VRRP Instance = charmed-twin_keystone_vip_81\n   State = MASTER\n   Virtual Router ID = 81\n' +
      '   Virtual IP (2):\n     10.112.4.224/22 dev br-ens4 scope global set\n     10.112.8.224/22 dev ens3 scope global set\n' +
      ' VRRP Instance = charmed-twin_glance_vip_82\n   State = BACKUP\n   Virtual Router ID = 82\n' +
      '   Virtual IP (2):\n     10.112.4.225/22 dev br-ens4 scope global\n     10.112.8.225/22 dev ens3 scope global\n';
    expect(parseVrrpOutput(two)[0]!.instances).toEqual([
      { name: 'charmed-twin_keystone_vip_81', state: 'MASTER', vrid: 81, addresses: ['10.112.4.224', '10.112.8.224'] },
      { name: 'charmed-twin_glance_vip_82', state: 'BACKUP', vrid: 82, addresses: ['10.112.4.225', '10.112.8.225'] },
    ]);
  });

  it('keeps why a keepalived could not be read, and reads none where none runs', () => {
    expect(parseVrrpOutput(printed)[1]).toEqual({ pid: 3100, instances: [], unreadable: 'keepalived wrote no data dump to /proc/3100/root/tmp/keepalived.data within 3 s' });
    expect(parseVrrpOutput('')).toEqual([]);
  });

  it('never lets the password lines of the dump leave the node', () => {
    const script = Buffer.from(vrrpCommand(loadLab('embedded')).split(' ')[1]!, 'base64').toString();
    expect(script).not.toMatch(/Password|Authentication/);
    expect(script).toMatch(/awk '\/\^ VRRP Instance = \//);
  });
});
