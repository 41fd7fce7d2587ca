import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadLab } from '../lab/load.ts';
import { loadDecisions } from './decisions.ts';
import { CATEGORIES } from './categories.ts';

/**
 * Runs once per acceptance project before any check: a malformed spec or decision record stops the run here
 * with one error listing every problem, before anything touches a lab.
 */
export default function setup(): void {
  const lab = loadLab();
  loadDecisions(lab);
  const results = process.env.STACKGATE_ALLURE_RESULTS ?? join(process.cwd(), 'reports/allure-results');
  mkdirSync(results, { recursive: true });
  writeFileSync(join(results, 'categories.json'), JSON.stringify(CATEGORIES, null, 2));
}
