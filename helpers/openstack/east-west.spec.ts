import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { eastWestFindings, eastWestScript, parseEastWest } from './east-west.ts';

const good = [
  'ping-exit 0',
  '3 packets transmitted, 3 packets received, 0% packet loss',
  'tcp SSH-2.0-dropbear_2022.83',
].join('\n');

describe('east-west between two guests', () => {
  it('reads ping and the SSH banner from the guest', () => {
    expect(parseEastWest(good)).toEqual({ sent: 3, replies: 3, banner: 'SSH-2.0-dropbear_2022.83' });
    expect(eastWestFindings('vm on fn2', 'vm-fn3 on fn3', '10.96.1.12', 22, parseEastWest(good))).toEqual([]);
  });

  it('names both guests, the address and what came back when the tunnel drops the packets', () => {
    const out = ['ping-exit 1', '3 packets transmitted, 0 packets received, 100% packet loss', 'tcp '].join('\n');
    expect(eastWestFindings('vm on fn2', 'vm-fn3 on fn3', '10.96.1.12', 22, parseEastWest(out))).toEqual([
      'from guest vm on fn2 to guest vm-fn3 on fn3 at 10.96.1.12: no echo reply to 3 pings',
      'from guest vm on fn2 to guest vm-fn3 on fn3 at 10.96.1.12: TCP 22 gave no SSH banner (nothing came back)',
    ]);
    expect(eastWestFindings('a', 'b', '10.0.0.2', 22, parseEastWest('ping-exit 2\ntcp nc: bad address'))[0]).toMatch(/ping printed no summary/);
  });

  it('refuses anything but an IPv4 address and a port in the command', () => {
    expect(() => eastWestScript('10.0.0.1; reboot', 22)).toThrow(/not an IPv4 address/);
    expect(() => eastWestScript('10.0.0.1', 0)).toThrow(/not a TCP port/);
  });

  // The command as the guest runs it: busybox's own sh, ping, nc, timeout, grep, head and tr, against this host.
  it.skipIf(!existsSync('/bin/busybox') || process.getuid?.() !== 0)('runs under busybox and finds an SSH server across', async () => {
    const bin = mkdtempSync(join(tmpdir(), 'sg-busybox-'));
    const server = createServer((s) => s.end('SSH-2.0-stackgate-test\r\n'));
    try {
      for (const applet of ['sh', 'ping', 'nc', 'timeout', 'grep', 'head', 'tr', 'sleep', 'echo']) symlinkSync('/bin/busybox', join(bin, applet));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const { port } = server.address() as AddressInfo;
      const { stdout } = await promisify(execFile)(join(bin, 'sh'), ['-c', eastWestScript('127.0.0.1', port)], { env: { PATH: bin } });
      expect(eastWestFindings('a', 'b', '127.0.0.1', port, parseEastWest(stdout)), stdout).toEqual([]);
    } finally {
      server.close();
      rmSync(bin, { recursive: true, force: true });
    }
  }, 20_000);
});
