// What the browser self-tests share: Debian's Chromium driven by playwright-core (never a downloaded browser), a
// static server for a rendered report, the lab's secrets to look for, and the lock every fault drill is taken under.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, isAbsolute, join, normalize, resolve, sep } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { parse } from 'yaml';
import { repoRoot } from '../helpers/lab/load.ts';
import type { Lab } from '../helpers/lab/model.ts';
import { privateKeyLines } from './key-lines.ts';

export const chromiumPath = process.env.STACKGATE_CHROMIUM ?? '/usr/bin/chromium';

/** Why the browser tests cannot run here, or undefined. CI (as root, STACKGATE_LIVE=1) must have Chromium. */
export function browserMissing(): string | undefined {
  return existsSync(chromiumPath) ? undefined : `no Chromium at ${chromiumPath} (apt-get install chromium, or set STACKGATE_CHROMIUM)`;
}

/** CI installs Chromium: there a missing browser is a failure, elsewhere a skip with the reason. */
export const browserRequired = process.env.STACKGATE_LIVE === '1' || process.env.CI === 'true';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath, headless: true });
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.json': 'application/json',
  '.css': 'text/css',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.txt': 'text/plain; charset=utf-8',
};

/** Serve a folder on 127.0.0.1 (an Allure 3 report loads its data with fetch, which file:// does not allow). */
export async function serveFolder(root: string): Promise<{ url: string; close(): Promise<void> }> {
  const base = resolve(root);
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    const file = normalize(join(base, path.endsWith('/') ? `${path}index.html` : path));
    if ((file !== base && !file.startsWith(base + sep)) || !existsSync(file) || statSync(file).isDirectory()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/`, close: () => new Promise<void>((ok) => server.close(() => ok())) };
}

function files(path: string): string[] {
  if (!existsSync(path)) return [];
  return statSync(path).isDirectory() ? readdirSync(path).flatMap((e) => files(join(path, e))) : [path];
}

function leaves(value: unknown, key: string, out: { key: string; value: string }[]): void {
  if (typeof value === 'string' || typeof value === 'number') out.push({ key, value: String(value) });
  else if (Array.isArray(value)) value.forEach((v) => leaves(v, key, out));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) leaves(v, k, out);
}

/**
 * The secret values of a lab, read from the files its spec lists under `secrets` (and its secretsFile): every
 * value of a passwords file, the password/secret/token/key values of other YAML or JSON (clouds.yaml), and the
 * base64 body lines of private keys that carry private material. Short values (under 6 characters) are left out: they would match anywhere.
 */
export function labSecrets(lab: Lab): string[] {
  const spec = lab.spec as { secrets?: string[]; credentials?: { secretsFile?: string } };
  const listed = [...(spec.secrets ?? []).map((p) => (isAbsolute(p) ? p : join(repoRoot, p)))];
  if (spec.credentials?.secretsFile) listed.push(lab.path(spec.credentials.secretsFile));
  const found = new Set<string>();
  for (const file of [...new Set(listed)].flatMap(files)) {
    const text = readFileSync(file, 'utf8');
    if (/\.(ya?ml|json)$/.test(file)) {
      const values: { key: string; value: string }[] = [];
      leaves(parse(text) as unknown, '', values);
      const all = /passw/i.test(file);
      for (const v of values) if (all || /pass|secret|token|key|credential/i.test(v.key)) found.add(v.value);
    } else {
      // Only inside private key blocks (a key file may bundle the public certificate), and only private material.
      for (const line of privateKeyLines(text)) found.add(line);
    }
  }
  return [...found].filter((s) => s.length >= 6);
}

/**
 * Run `fn` holding /tmp/stackgate-fault.lock (flock(1)), the lock every session takes to inject or revert a fault
 * drill in the shared embedded lab and to run checks against it while the fault is in.
 */
export async function withFaultLock<T>(fn: () => Promise<T>, lockFile = '/tmp/stackgate-fault.lock'): Promise<T> {
  // flock holds the lock while its child, a shell that waits for its stdin to close, runs.
  const holder = spawn('flock', [lockFile, 'sh', '-c', 'echo locked; cat > /dev/null'], { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((ok, fail) => {
      holder.once('error', fail);
      holder.once('exit', (code) => fail(new Error(`flock ${lockFile} exited ${code} before taking the lock`)));
      holder.stdout.once('data', () => ok());
    });
    return await fn();
  } finally {
    holder.stdin.end();
    if (holder.exitCode === null) await new Promise((ok) => holder.once('exit', ok));
  }
}
