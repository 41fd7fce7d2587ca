// The Allure report as a person sees it (Vitest project `drills`: it injects a fault drill into the running embedded
// lab). Two real runs of the drill's layers and monitoring (whose evidence is fetched with the lab's Prometheus
// password): one on the healthy lab, one with the drill in, both under the fault lock. Each is rendered by
// `npm run report`'s script into one history, and the second report is opened in headless Chromium.
// Screenshots go to reports/tmp/report-browser; STACKGATE_UPDATE_SCREENSHOTS=1 also writes the README's pictures
// (reports/screenshots/). Skipped (with the reason) where the lab is not up, this is not root, or there is no
// Chromium outside CI.
import { copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runChecks, type ChildRun } from '../helpers/gate/child-run.ts';
import { layerOf } from '../helpers/gate/layers.ts';
import { loadLab, repoRoot } from '../helpers/lab/load.ts';
import { findDrill } from '../provision/local/drills/index.ts';
import { status } from '../provision/local/index.ts';
import { browserMissing, browserRequired, labSecrets, launchChromium, serveFolder, withFaultLock } from './browser.ts';

const lab = loadLab(process.env.STACKGATE_LAB ?? 'embedded');
const root = process.getuid?.() === 0;
// Running is enough (its supervisor and topology): a service these layers do not use may be down for another
// session's work; the healthy run below fails, naming it, when one they use is.
const state = root && lab.provider === 'local' ? await status(lab) : undefined;
const up = !!state?.supervisord && !!state && Object.values(state.topology).every((m) => Object.values(m).every(Boolean));
const missing = browserMissing();
const drill = up ? findDrill(lab, process.env.STACKGATE_REPORT_DRILL ?? 'tls-old-protocols') : undefined;
const layers = drill ? [...new Set([...drill.checks.map(layerOf), 'monitoring' as const])] : [];
const scratch = join(repoRoot, 'reports/tmp/report-browser');
const history = join(scratch, 'history.jsonl');
const screenshots = process.env.STACKGATE_UPDATE_SCREENSHOTS === '1' ? join(repoRoot, 'reports/screenshots') : undefined;

async function render(run: string): Promise<string> {
  const output = join(scratch, run, 'allure-report');
  await execa('npx', ['tsx', 'reports/render.ts'], {
    cwd: repoRoot,
    env: { STACKGATE_ALLURE_RESULTS: join(scratch, run, 'allure-results'), STACKGATE_ALLURE_REPORT: output, STACKGATE_ALLURE_HISTORY: history },
  });
  return output;
}

const failedIds = (run: ChildRun) => (run.verdict?.results ?? []).filter((r) => r.status === 'failed').map((r) => r.checkId ?? '?').sort();

describe.runIf(up && (!missing || browserRequired))(`the Allure report of a run with drill ${drill?.name} on lab ${lab.name}, in Chromium`, () => {
  let healthy: ChildRun;
  let broken: ChildRun;
  let browser: Browser;
  let page: Page;
  let server: Awaited<ReturnType<typeof serveFolder>>;
  const outside: string[] = [];
  const failing = () => drill!.checks[0]!;

  beforeAll(async () => {
    if (missing) throw new Error(missing);
    rmSync(scratch, { recursive: true, force: true });
    mkdirSync(scratch, { recursive: true });
    const args = layers.flatMap((l) => ['--project', l]);
    // Under the lock: no other session's drill is in while these runs judge the lab, ours is out before it is released.
    await withFaultLock(async () => {
      await drill!.revert(lab); // a crashed earlier run may have left it in
      healthy = await runChecks({ lab: lab.file, scratch: join(scratch, 'healthy'), args });
      await drill!.inject(lab);
      try {
        broken = await runChecks({ lab: lab.file, scratch: join(scratch, 'drill'), args });
      } finally {
        await drill!.revert(lab);
      }
    });
    await render('healthy');
    server = await serveFolder(await render('drill'));
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    // The report is read offline: nothing it loads may leave this host (Allure's analytics are stripped by render.ts).
    await page.route(
      (url) => !url.href.startsWith(server.url),
      (route) => {
        outside.push(route.request().url());
        return route.abort();
      },
    );
  }, 900_000); // the lock may be held by another session's drills for minutes

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  const open = async (hash = '') => {
    await page.goto(`${server.url}${hash}`);
    await page.getByTestId('tree-content').first().waitFor();
  };
  const openFailing = async () => {
    await open();
    await page.getByTestId('tree-leaf-title').filter({ hasText: `${failing()}:` }).first().click();
    await page.getByTestId('test-result-info-title').waitFor();
  };

  it('the runs: the healthy lab passes these layers, the drill fails exactly its checks', () => {
    expect(failedIds(healthy), healthy.output.slice(-1500)).toEqual([]);
    expect(failedIds(broken), broken.output.slice(-1500)).toEqual([...drill!.checks].sort());
  });

  it('layers are the top-level grouping', async () => {
    await open();
    await page.getByTestId('tree-section-title').first().waitFor();
    // The sections of the outermost tree level (each level nests a tree-content), whatever order the tree gives
    // them and whichever are expanded.
    const top = await page.$$eval('[data-testid=tree-section-title]', (titles) =>
      titles
        .filter((t) => {
          let depth = 0;
          for (let p = t.parentElement; p; p = p.parentElement) if (p.getAttribute('data-testid') === 'tree-content') depth++;
          return depth === 1;
        })
        .map((t) => (t as unknown as { innerText: string }).innerText.trim()),
    );
    expect(top.sort()).toEqual([...layers].sort());
    // Every decision and check sits below its layer: the first section's title is a layer, its children decisions.
    expect(await page.getByTestId('tree-section-title').first().innerText()).toMatch(new RegExp(`^(${layers.join('|')})$`));
    await page.screenshot({ path: join(scratch, 'overview.png') });
    if (screenshots) {
      mkdirSync(screenshots, { recursive: true });
      copyFileSync(join(scratch, 'overview.png'), join(screenshots, 'overview.png'));
    }
  });

  it('a test shows its decision IDs and its check ID', async () => {
    await openFailing();
    const decisions = broken.verdict!.matrix.filter((m) => m.checks.some((c) => c.id === failing())).map((m) => m.decision);
    expect(decisions.length).toBeGreaterThan(0);
    expect(await page.getByTestId('test-result-info-title').innerText()).toContain(failing());
    const showMore = page.getByText('Show more');
    if (await showMore.count()) await showMore.first().click();
    const labels = Object.fromEntries(
      await Promise.all(
        (await page.getByTestId('metadata-item').all()).map(async (item) => [
          await item.getByTestId('metadata-item-key').innerText(),
          await item.getByTestId('metadata-item-value').allInnerTexts().then((v) => v.join(' ')),
        ]),
      ),
    ) as Record<string, string>;
    expect(labels.check).toBe(failing());
    for (const d of decisions) {
      expect(labels.decision, `decision label ${d}`).toContain(d);
      expect(await page.getByTestId('test-result-breadcrumb-button').allInnerTexts()).toContainEqual(expect.stringContaining(d));
    }
  });

  it('the failing check shows its message, naming its decision and object, and its attachments', async () => {
    await openFailing();
    expect(await page.getByTestId('test-result-status-failed').count()).toBeGreaterThan(0);
    const message = await page.getByTestId('test-result-error-message').first().innerText();
    expect(drill!.decisions.some((d) => message.includes(`[${d}`))).toBe(true);
    expect(message).toContain(drill!.object);
    await page.screenshot({ path: join(scratch, 'failure.png') });
    if (screenshots) copyFileSync(join(scratch, 'failure.png'), join(screenshots, 'failure.png'));
    await page.getByTestId('test-result-tab-attachments').click();
    const body = await page.locator('main, body').first().innerText();
    const attachment = (await page.getByTestId('test-result-tab-attachments').innerText()).replace(/\D/g, '');
    expect(Number(attachment), 'attachments counted on the tab').toBeGreaterThan(0);
    expect(body.length).toBeGreaterThan(0);
  });

  it('no attachment, message or page of the report contains a secret of the lab', async () => {
    const secrets = labSecrets(lab);
    expect(secrets.length, 'secrets read from the files the lab spec lists').toBeGreaterThan(2);
    // Every file of both runs' results and the rendered report, attachments included.
    const { stdout } = await execa('find', [scratch, '-type', 'f', '(', '-name', '*.json', '-o', '-name', '*.txt', '-o', '-name', '*.xml', '-o', '-name', '*.md', '-o', '-name', '*.html', ')']);
    const files = stdout.split('\n').filter(Boolean);
    expect(files.some((f) => f.includes('/data/attachments/'))).toBe(true);
    for (const f of files) {
      const text = readFileSync(f, 'utf8');
      for (const s of secrets) expect(text.includes(s), `a secret of lab ${lab.name} in ${f}`).toBe(false);
    }
    // And what the browser shows of the failing check's attachments, opened.
    await openFailing();
    await page.getByTestId('test-result-tab-attachments').click();
    for (const item of await page.getByText(/text\/plain|application\/json/).all()) await item.click().catch(() => undefined);
    const shown = await page.locator('body').innerText();
    for (const s of secrets) expect(shown.includes(s)).toBe(false);
  });

  it('the environment section names the lab, its provider and its release', async () => {
    await open();
    const items = Object.fromEntries(
      await Promise.all(
        (await page.getByTestId('metadata-list').first().getByTestId('metadata-item').all()).map(async (item) => [
          await item.getByTestId('metadata-item-key').innerText(),
          await item.getByTestId('metadata-item-value').innerText(),
        ]),
      ),
    ) as Record<string, string>;
    expect(items).toMatchObject({ lab: lab.name, provider: lab.provider, release: lab.release });
  });

  it('the second run shows history and trend: the failing check regressed, two runs in the status dynamics', async () => {
    expect(readFileSync(history, 'utf8').trim().split('\n')).toHaveLength(2);
    await open();
    const leaf = page.getByTestId('tree-leaf').filter({ hasText: `${failing()}:` }).first();
    expect(await leaf.getByTestId('tree-leaf-transition-regressed').count(), 'the failing check is marked regressed').toBe(1);
    await openFailing();
    expect((await page.getByTestId('test-result-tab-history').innerText()).replace(/\D/g, '')).toBe('1');
    await page.getByTestId('test-result-tab-history').click();
    await page.goto(`${server.url}#charts`);
    await page.getByText('Status dynamics').waitFor();
    // The status dynamics chart: a bar for the earlier run (its date) beside this one (Latest).
    const chart = page.locator('div').filter({ hasText: 'Status dynamics' }).filter({ hasText: 'Latest' }).last();
    await chart.waitFor();
    expect(await chart.innerText()).toMatch(/\d{1,2}\/\d{1,2}\/\d{4}[\s\S]*Latest/);
    expect(outside, 'requests that left this host').toEqual([]);
  });
});

describe.runIf(!up || (missing && !browserRequired))('the Allure report in Chromium', () => {
  it.skip(!up ? `needs the ${lab.name} lab running and root (npm run lab -- up)` : `${missing}`, () => {});
});
