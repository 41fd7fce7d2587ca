import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { loadLab } from '../lab/load.ts';
import type { LabNode } from '../lab/model.ts';
import { askVersion, memcachedFindings, memcachedNodes } from './memcached.ts';

describe('memcached on every control node', () => {
  it('is expected on each control node of a lab with Keystone, and nowhere without one', () => {
    const controllers = ['controller-1', 'controller-2', 'controller-3'];
    expect(memcachedNodes(loadLab('ha-infra')).map((n) => n.name)).toEqual(controllers);
    expect(memcachedNodes(loadLab('embedded')).map((n) => n.name)).toEqual(['node1']);
    expect(memcachedNodes(loadLab('embedded-infra'))).toEqual([]);
  });

  it('names the node, its address and what was seen', () => {
    expect(memcachedFindings([
      { node: 'controller-1', address: '172.27.40.11:11211', answer: 'VERSION 1.6.18' },
      { node: 'controller-2', address: '172.27.40.12:11211', answer: 'ERROR' },
      { node: 'controller-3', address: '172.27.40.13:11211', error: 'connect ECONNREFUSED 172.27.40.13:11211' },
    ])).toEqual([
      'controller-2: 172.27.40.12:11211 answered "ERROR", not memcached\'s VERSION',
      'controller-3: memcached at 172.27.40.13:11211 connect ECONNREFUSED 172.27.40.13:11211',
    ]);
  });

  it("reads the first line of the answer to `version`, and reports a server that says nothing", async () => {
    const talker = createServer((c) => c.on('data', () => c.write('VERSION 1.6.18\r\n')));
    const mute = createServer(() => undefined);
    const port = async (s: ReturnType<typeof createServer>) => {
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
      return (s.address() as { port: number }).port;
    };
    const node = { name: 'n', apiAddress: '127.0.0.1' } as LabNode;
    try {
      expect((await askVersion(node, await port(talker))).answer).toBe('VERSION 1.6.18');
      expect((await askVersion(node, await port(mute), 300)).error).toBe('no answer within 0.3 s');
    } finally {
      talker.close();
      mute.close();
    }
  });
});
