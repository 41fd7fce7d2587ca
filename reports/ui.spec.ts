// `npm run ui` in a browser: the Vitest UI starts on the acceptance projects with the lab selected, its page loads
// in headless Chromium with the test tree, and one check is rerun from it. Standalone (nothing runs until asked)
// on a free port, no browser opened by Vitest, its Allure results and matrix in a scratch folder; stopped by its pid.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAYERS } from '../helpers/gate/layers.ts';
import { repoRoot } from '../helpers/lab/load.ts';
import { browserMissing, browserRequired, launchChromium } from './browser.ts';

const missing = browserMissing();
const scratch = join(repoRoot, 'reports/tmp/ui');

async function until<T>(probe: () => T | undefined, ms = 60_000): Promise<T> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((ok) => setTimeout(ok, 200))) {
    const v = probe();
    if (v !== undefined) return v;
  }
  throw new Error(`not within ${ms} ms`);
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((ok) => server.close(() => ok()));
  return port;
}

describe.runIf(!missing || browserRequired)('npm run ui: the Vitest UI in Chromium', () => {
  let ui: ChildProcess;
  let output = '';
  let url: string;
  let browser: Browser;

  beforeAll(async () => {
    if (missing) throw new Error(missing);
    rmSync(scratch, { recursive: true, force: true });
    const port = await freePort();
    // Its own process group, so that stopping it by its pid also stops the Vitest it starts.
    ui = spawn('npm', ['run', 'ui', '--', '--lab', 'primary', '--open=false', '--standalone', '--api.host', '127.0.0.1', '--api.port', String(port)], {
      cwd: repoRoot,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FORCE_COLOR: '0', STACKGATE_REPORTS: scratch, STACKGATE_ALLURE_RESULTS: join(scratch, 'allure-results') },
    });
    const started = new Promise<void>((ok, fail) => {
      const watch = (chunk: Buffer) => {
        output += chunk.toString();
        if (/UI started at/.test(output)) ok();
      };
      ui.stdout!.on('data', watch);
      ui.stderr!.on('data', watch);
      ui.once('exit', (code) => fail(new Error(`npm run ui exited ${code}:\n${output}`)));
    });
    await started;
    url = `http://127.0.0.1:${port}/__vitest__/`;
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    if (ui?.pid && ui.exitCode === null) {
      const exited = new Promise((ok) => ui.once('exit', ok));
      process.kill(-ui.pid, 'SIGTERM');
      await exited;
    }
  });

  it('names the lab it judges', () => {
    expect(output).toMatch(/Vitest UI on lab primary — .* \(provider lima, release 2025\.2;/);
  });

  it('shows the acceptance checks of every layer, and neither the self-tests nor the drills', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(url);
    await page.getByTestId('explorer-item').filter({ hasText: 'suites/preflight/vips.test.ts' }).first().waitFor();
    const files = await page.getByTestId('explorer-item').allInnerTexts();
    expect(files.length).toBeGreaterThan(5);
    // Each file is shown as its project (a layer) and its path.
    const shape = new RegExp(`^\\s*(${LAYERS.join('|')})\\s*suites/\\1/[\\w.-]+\\.test\\.ts`);
    for (const f of files) expect(f).toMatch(shape);
    expect(new Set(files.map((f) => shape.exec(f)![1])).has('preflight')).toBe(true);
    expect(files.join('\n')).not.toMatch(/\.spec\.ts|\.live\.ts/);
    await page.close();
  });

  it('reruns one check from the tree, against the selected lab', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(url);
    const file = page.getByTestId('explorer-item').filter({ hasText: 'suites/preflight/vips.test.ts' }).first();
    await file.hover();
    await file.getByTestId('btn-run-test').click();
    const check = page.getByTestId('explorer-item').filter({ hasText: 'pre.vips-outside-dhcp:' }).first();
    await check.waitFor({ timeout: 60_000 });
    const matrix = join(scratch, 'decisions.json');
    const before = await until(() => (existsSync(matrix) ? statSync(matrix).mtimeMs : undefined));
    // The one check again, by its own run button: the gate reporter writes the matrix of that run.
    await check.hover();
    await check.getByTestId('btn-run-test').click();
    await until(() => (statSync(matrix).mtimeMs > before ? true : undefined));
    const verdict = JSON.parse(readFileSync(join(scratch, 'decisions.json'), 'utf8')) as { lab: string; results: { checkId: string; status: string }[] };
    expect(verdict.lab).toBe('primary');
    expect(verdict.results.find((r) => r.checkId === 'pre.vips-outside-dhcp')?.status).toBe('passed');
    await page.close();
  }, 120_000);
});

describe.runIf(missing && !browserRequired)('npm run ui in Chromium', () => {
  it.skip(`${missing}`, () => {});
});
