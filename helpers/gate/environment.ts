import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadLab, repoRoot } from '../lab/load.ts';

function version(pkg: string): string {
  try {
    return (JSON.parse(readFileSync(join(repoRoot, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** The Allure environment section: which lab, release, provider and tool versions a run judged. */
export function environmentInfo(): Record<string, string> {
  const info: Record<string, string> = {
    node: process.version,
    vitest: version('vitest'),
    stackgate: JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).version as string,
  };
  try {
    const lab = loadLab();
    Object.assign(info, {
      lab: lab.name,
      'lab title': lab.title,
      release: lab.release,
      provider: lab.provider,
      deployer: `${lab.deployer.kind}${lab.deployer.version ? ` ${lab.deployer.version}` : ''}`,
      'storage phase': String(lab.storagePhase),
    });
  } catch (error) {
    // The global setup reports a bad spec with every problem; here it only leaves the lab out.
    info.lab = `invalid spec (${(error as Error).message.split('\n')[0]})`;
  }
  return info;
}
