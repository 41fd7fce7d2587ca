import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { loadLab, repoRoot } from '../../helpers/lab/load.ts';
import { isIPv4, toInt } from '../../helpers/net/ip.ts';
import { assignedAddresses } from '../../helpers/lab/addressing.ts';
import { renderLimaInstanceYaml, renderNetplan, renderNetworksYaml, renderNetworksYamlText, dhcpEnd } from './lima.ts';

const lab = loadLab('primary');
const schema = (name: string) => {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  ajv.addFormat('ipv4', isIPv4);
  return ajv.compile(JSON.parse(readFileSync(join(repoRoot, 'fixtures/lima', name), 'utf8')));
};

describe('Lima rendering (primary lab)', () => {
  test('every instance YAML validates against the Lima schema subset (fixtures/lima, from Lima v2.2.0)', () => {
    const validate = schema('lima-yaml.subset.schema.json');
    for (const node of lab.nodes) {
      const doc: unknown = parse(renderLimaInstanceYaml(lab, node));
      expect(validate(doc) ? [] : validate.errors, node.name).toEqual([]);
    }
  });

  test('the schema subset rejects what Lima rejects: an unknown key, a wrong vmType, a network with both lima and socket', () => {
    const validate = schema('lima-yaml.subset.schema.json');
    expect(validate({ vmType: 'qemu', colour: 'red' })).toBe(false);
    expect(validate({ vmType: 'kvm' })).toBe(false);
    expect(validate({ networks: [{ lima: 'a', socket: '/b' }] })).toBe(false);
  });

  test('qemu on aarch64, sizes from the spec, raw additional disks, one Lima network per NIC named as the spec', () => {
    for (const node of lab.nodes) {
      const doc = parse(renderLimaInstanceYaml(lab, node)) as Record<string, unknown>;
      expect(doc).toMatchObject({ vmType: 'qemu', arch: 'aarch64', cpus: node.size.vcpus, memory: `${node.size.memoryGiB}GiB`, disk: `${node.size.diskGiB}GiB` });
      expect(doc.additionalDisks).toEqual(node.disks.map((d) => ({ name: d.name, format: false })));
      expect(doc.networks).toEqual(node.nics.map((n) => ({ lima: n.network, interface: n.name })));
      const script = (doc.provision as { mode: string; script: string }[])[0]!;
      expect(script.mode).toBe('system');
      expect(script.script).toContain(`hostnamectl set-hostname ${node.hostname}`);
    }
  });

  test('the provision script pins every address of the spec and gives no lab NIC DHCP; the external port stays bare', () => {
    const node1 = lab.node('node1');
    const np = parse(renderNetplan(lab, node1)) as { network: { ethernets: Record<string, { dhcp4: boolean; addresses?: string[] }> } };
    for (const nic of node1.nics) {
      const e = np.network.ethernets[nic.name]!;
      expect(e.dhcp4).toBe(false);
      expect(e.addresses ?? []).toEqual(nic.use === 'address' && nic.address ? [`${nic.address}/${nic.prefix}`] : []);
    }
    expect(np.network.ethernets.lima3!.addresses).toBeUndefined();
  });

  test('networks.yaml entries: mode, gateway, netmask, and dhcpEnd below every VIP and node address', () => {
    const validate = schema('networks.subset.schema.json');
    const doc: unknown = parse(renderNetworksYamlText(lab));
    expect(validate(doc) ? [] : validate.errors).toEqual([]);
    const { networks } = renderNetworksYaml(lab);
    expect(Object.keys(networks)).toEqual(['management', 'tunnel', 'external', 'storage']);
    expect(networks.management).toEqual({ mode: 'shared', gateway: '192.168.105.1', dhcpEnd: '192.168.105.99', netmask: '255.255.255.0' });
    for (const p of assignedAddresses(lab)) expect(toInt(p.address), p.owner).toBeGreaterThan(toInt(networks[p.network]!.dhcpEnd!));
  });

  test('a DHCP range that covers a VIP is refused; without a range, dhcpEnd stops below the lowest address', () => {
    const spec = structuredClone(lab.spec);
    spec.networks.management!.dhcp = { start: '192.168.105.2', end: '192.168.105.254' };
    const Lab = lab.constructor as new (s: typeof spec, f: string) => typeof lab;
    expect(() => dhcpEnd(new Lab(spec, lab.file), 'management')).toThrow(/192\.168\.105\.101 \(node node1 lima0\)/);
    const bare = structuredClone(lab.spec);
    delete bare.networks.management!.dhcp;
    expect(dhcpEnd(new Lab(bare, lab.file), 'management')).toBe('192.168.105.100');
  });
});
