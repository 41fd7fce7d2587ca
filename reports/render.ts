// `npm run report`: renders the Allure 3 HTML report of the last run, grouped by layer, with history kept in
// reports/history.jsonl across runs and the decisions matrix beside it.
// STACKGATE_ALLURE_RESULTS / STACKGATE_ALLURE_REPORT / STACKGATE_ALLURE_HISTORY point it elsewhere (self-tests, CI).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { CATEGORIES } from '../helpers/gate/categories.ts';
import { repoRoot } from '../helpers/lab/load.ts';

const reports = join(repoRoot, 'reports');
const results = resolve(process.env.STACKGATE_ALLURE_RESULTS ?? join(reports, 'allure-results'));
const output = resolve(process.env.STACKGATE_ALLURE_REPORT ?? join(reports, 'allure-report'));
const historyPath = resolve(process.env.STACKGATE_ALLURE_HISTORY ?? join(reports, 'history.jsonl'));

if (!existsSync(results)) {
  console.error(`No Allure results at ${results}: run the acceptance first (npm test).`);
  process.exit(1);
}

const config = {
  name: 'stackgate acceptance',
  output,
  historyPath,
  categories: { rules: CATEGORIES },
  plugins: {
    awesome: { options: { reportName: 'stackgate acceptance', singleFile: false, groupBy: ['epic', 'feature', 'story'] } },
  },
};
// Allure writes a report into the output folder itself only when that folder is empty; over an earlier report it
// writes into a plugin subfolder and leaves the stale index.html in front. Each render starts from nothing.
rmSync(output, { recursive: true, force: true });
mkdirSync(output, { recursive: true });
// One config per render: concurrent renders (self-tests, a developer's `npm run report`) never share it.
const tmp = mkdtempSync(join(tmpdir(), 'stackgate-allurerc-'));
const configFile = join(tmp, 'allurerc.json');
try {
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  await execa('npx', ['allure', 'generate', results, '--config', configFile, '--output', output], { cwd: repoRoot, stdio: 'inherit' });
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
// Allure 3's page loads Google Analytics; a lab's report is read offline and tells nobody it was opened.
const index = join(output, 'index.html');
if (existsSync(index)) {
  const html = readFileSync(index, 'utf8');
  writeFileSync(index, html.replace(/\s*<script async src="https:\/\/www\.googletagmanager\.com\/[^"]*"><\/script>\s*<script>[\s\S]*?gtag\('config'[\s\S]*?<\/script>/, ''));
}
console.log(`Report: ${join(output, 'index.html')} · matrix: ${join(reports, 'decisions.md')}`);
