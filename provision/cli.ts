/** `npm run lab -- up|down|status [--lab NAME] [--purge] [--json]`: the lab's provider, chosen by its spec. */
import { loadLab } from '../helpers/lab/load.ts';
import * as local from './local/index.ts';

const USAGE = 'usage: npm run lab -- up|down|status|ensure [--lab NAME|PATH] [--purge] [--json]   (default lab: $STACKGATE_LAB or embedded)';

async function main(argv: string[]): Promise<number> {
  const verb = argv.find((a) => !a.startsWith('-') && argv[argv.indexOf(a) - 1] !== '--lab');
  const labArg = argv.includes('--lab') ? argv[argv.indexOf('--lab') + 1] : argv.find((a) => a.startsWith('--lab='))?.slice(6);
  if (!verb || argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE);
    return verb ? 0 : 2;
  }
  const lab = loadLab(labArg || process.env.STACKGATE_LAB || 'embedded');
  if (verb === 'ensure' && lab.provider !== 'local') {
    // `npm test` runs this first: only the embedded lab is brought up on demand; a real lab is judged as it is.
    console.log(`lab ${lab.name} (provider ${lab.provider}) is judged as it is; stackgate does not bring it up for a test run`);
    return 0;
  }
  if (lab.provider !== 'local') {
    console.error(`lab ${lab.name} uses provider "${lab.provider}"; only the local provider is implemented here`);
    return 2;
  }
  switch (verb) {
    case 'up':
      await local.up(lab);
      return 0;
    case 'ensure':
      if ((await local.status(lab)).up) return 0;
      await local.up(lab);
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
