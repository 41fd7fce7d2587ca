// `npm run report`: renders the Allure 3 HTML report of the last run, grouped by layer, with history kept in
// reports/history.jsonl across runs and the decisions matrix beside it.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { CATEGORIES } from '../helpers/gate/categories.ts';
import { repoRoot } from '../helpers/lab/load.ts';

const reports = join(repoRoot, 'reports');
const results = process.env.STACKGATE_ALLURE_RESULTS ?? join(reports, 'allure-results');
const output = process.env.STACKGATE_ALLURE_REPORT ?? join(reports, 'allure-report');

if (!existsSync(results)) {
  console.error(`No Allure results at ${results}: run the acceptance first (npm test).`);
  process.exit(1);
}

const config = {
  name: 'stackgate acceptance',
  output,
  historyPath: process.env.STACKGATE_ALLURE_HISTORY ?? join(reports, 'history.jsonl'),
  categories: { rules: CATEGORIES },
  plugins: {
    awesome: { options: { reportName: 'stackgate acceptance', singleFile: false, groupBy: ['epic', 'feature', 'story'] } },
  },
};
mkdirSync(join(reports, 'tmp'), { recursive: true });
const configFile = join(reports, 'tmp', 'allurerc.json');
writeFileSync(configFile, JSON.stringify(config, null, 2));
await execa('npx', ['allure', 'generate', results, '--config', configFile, '--output', output], { cwd: repoRoot, stdio: 'inherit' });
console.log(`Report: ${join(output, 'index.html')} · matrix: ${join(reports, 'decisions.md')}`);
