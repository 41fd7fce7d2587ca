/** `npm run lab -- up|down|status [--lab NAME] [--purge] [--json]`: the lab's provider, chosen by its spec. */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadLabAndDecisions } from '../helpers/gate/decisions.ts';
import { loadLab, resolveLabFile } from '../helpers/lab/load.ts';
import * as local from './local/index.ts';
import * as lima from './lima/index.ts';
import { reapLab } from './reap.ts';
import { drillCatalogue, findDrill, formatCatalogue } from './local/drills/index.ts';

const USAGE = [
  'usage: npm run lab -- up|down|status|ensure [--lab NAME|PATH] [--purge] [--json]   (default lab: $STACKGATE_LAB or embedded)',
  '       npm run lab -- plan   (embedded lab: what up would change in the running lab: nodes, daemons; changes nothing)',
  '       npm run lab -- reboot [NODE ...] [--hard]   (a node\'s power cycle; no NODE: the whole lab; waits until it is back)',
  '       npm run lab -- reap   (remove cloud resources earlier runs left: their ledgers, then any sg-<run>- name)',
  '       npm run lab -- drill --list | drill NAME | drill --revert NAME | drill --revert-all',
  lima.USAGE,
].join('\n');

/** The lab, judged with its decision record when it has one: bad input stops every verb before anything changes. */
function loadInput(nameOrPath: string) {
  const hasRecord = existsSync(join(dirname(resolveLabFile(nameOrPath)), 'decisions.yaml'));
  return hasRecord ? loadLabAndDecisions(nameOrPath).lab : loadLab(nameOrPath);
}

async function main(argv: string[]): Promise<number> {
  const valued = new Set(['--lab', '--phase', '--from']);
  const verb = argv.find((a, i) => !a.startsWith('-') && !valued.has(argv[i - 1] ?? ''));
  const labArg = argv.includes('--lab') ? argv[argv.indexOf('--lab') + 1] : argv.find((a) => a.startsWith('--lab='))?.slice(6);
  if (!verb || argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE);
    return verb ? 0 : 2;
  }
  const lab = loadInput(labArg || process.env.STACKGATE_LAB || 'embedded');
  if (verb === 'reap') {
    // Provider-independent: it talks to the cloud, never to the machines.
    const r = await reapLab(lab);
    console.log(r.removed.length ? `removed ${r.removed.length} leftover(s): ${r.removed.join(', ')}` : `no leftovers of earlier runs in lab ${lab.name}`);
    if (r.failed.length) console.error(`could not remove: ${r.failed.join('; ')}`);
    return r.failed.length ? 1 : 0;
  }
  if (verb === 'ensure' && lab.provider !== 'local') {
    // `npm test` runs this first: only the embedded lab is brought up on demand; a real lab is judged as it is.
    console.log(`lab ${lab.name} (provider ${lab.provider}) is judged as it is; stackgate does not bring it up for a test run`);
    return 0;
  }
  if (lab.provider === 'lima') return lima.main(lab, verb, argv);
  if (lab.provider !== 'local') {
    console.error(`lab ${lab.name} uses provider "${lab.provider}": stackgate judges it as it is and cannot bring it up or down`);
    return 2;
  }
  switch (verb) {
    case 'up':
      await local.up(lab, { skipPreflight: argv.includes('--skip-preflight') });
      return 0;
    case 'ensure':
      await local.ensure(lab);
      return 0;
    case 'drill': {
      const rest = argv.slice(argv.indexOf('drill') + 1).filter((a) => a !== '--lab' && a !== labArg);
      if (rest.includes('--list') || rest.length === 0) {
        console.log(formatCatalogue(drillCatalogue(lab)));
        return 0;
      }
      if (rest.includes('--revert-all')) {
        // After a crash nobody knows which drill was in: revert them all, each is a no-op when not in place.
        for (const d of drillCatalogue(lab)) await d.revert(lab);
        console.log(`reverted every drill of lab ${lab.name}`);
        return 0;
      }
      const name = rest.find((a) => !a.startsWith('-'));
      if (!name) {
        console.error(USAGE);
        return 2;
      }
      const drill = findDrill(lab, name);
      if (rest.includes('--revert')) {
        await drill.revert(lab);
        console.log(`reverted ${drill.name}`);
      } else {
        await drill.inject(lab);
        console.log(`injected ${drill.name}: ${drill.description}\n  must fail: ${drill.checks.join(', ')}\n  revert:    npm run lab -- drill --revert ${drill.name}`);
      }
      return 0;
    }
    case 'reboot': {
      const nodes = argv.slice(argv.indexOf('reboot') + 1).filter((a, i, all) => !a.startsWith('-') && all[i - 1] !== '--lab');
      await local.reboot(lab, nodes, { hard: argv.includes('--hard') });
      return 0;
    }
    case 'plan':
      console.log(local.planUp(lab));
      return 0;
    case 'down':
      await local.down(lab, { purge: argv.includes('--purge') });
      return 0;
    case 'status': {
      const s = await local.status(lab);
      console.log(argv.includes('--json') ? JSON.stringify(s, null, 2) : local.formatStatus(s));
      return s.up ? 0 : 1;
    }
    default:
      console.error(`unknown verb "${verb}"\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof Error ? `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}` : String(error));
    process.exitCode = 1;
  },
);
