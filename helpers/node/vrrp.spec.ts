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
