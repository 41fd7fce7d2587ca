import { describe, expect, it } from 'vitest';
import { loadLab } from '../../../helpers/lab/load.ts';
import { renderHosts } from './hosts.ts';

describe("a node's /etc/hosts", () => {
  const lab = loadLab('embedded');

  it('names every node, and the name the node itself answers to (the host is "vm" here)', () => {
    const hosts = renderHosts(lab, 'vm').split('\n');
    expect(hosts).toContain('127.0.1.1 vm');
    for (const n of lab.nodes) expect(hosts.some((l) => l.startsWith(`${n.apiAddress} `) && l.endsWith(` ${n.hostname}`))).toBe(true);
  });

  it('adds no loopback line where the host name is one of the nodes', () => {
    expect(renderHosts(lab, lab.nodes[0]!.hostname)).not.toContain('127.0.1.1');
  });
});
