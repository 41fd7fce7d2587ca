/**
 * keepalived's own view of its VRRP instances on a node: which keepalived runs in the node's network namespace and
 * what state each instance is in, from keepalived's data dump (SIGUSR1 writes /tmp/keepalived.data in the daemon's
 * file system, read here through /proc/<pid>/root). The same on a host with the distribution's keepalived, in a
 * Kolla container with host networking, and in the embedded lab's namespaces (where every node shares one PID space:
 * the network namespace tells the nodes' daemons apart).
 */
import type { Lab } from '../lab/model.ts';
import type { NodeShell } from './ssh.ts';

export interface VrrpInstance {
  readonly name: string;
  /** MASTER, BACKUP, FAULT, INIT … as keepalived reports it. */
  readonly state: string;
  readonly vrid: number | undefined;
  /** The virtual addresses it manages, without prefix. */
  readonly addresses: readonly string[];
}

/** One keepalived (its parent process) in the node's network namespace. */
export interface Keepalived {
  readonly pid: number;
  readonly instances: readonly VrrpInstance[];
  /** Why its state could not be read (no dump written, no permission …). */
  readonly unreadable?: string;
}

/**
 * Only the lines that name instances, states, router IDs and virtual addresses leave the node: the dump also holds
 * the VRRP password, which must not.
 */
const PICK =
  "awk '/^ VRRP Instance = /{print;next} /^   State = /{print;next} /^   Virtual Router ID = /{print;next}" +
  ' /^   Virtual IP \\(/{n=$0; gsub(/[^0-9]/,"",n); print; c=n+0; next} c>0{print; c--}\'';

const SCRIPT = `command -v pgrep >/dev/null || { echo '#no-pgrep'; exit 0; }
self=$(readlink /proc/self/ns/net)
for p in $(pgrep -x keepalived); do
  [ "$(readlink /proc/$p/ns/net 2>/dev/null)" = "$self" ] || continue
  pp=$(awk '/^PPid/{print $2}' /proc/$p/status 2>/dev/null)
  [ "$(cat /proc/$pp/comm 2>/dev/null)" = keepalived ] && continue
  echo "#keepalived $p"
  f=/proc/$p/root/tmp/keepalived.data
  rm -f "$f" 2>/dev/null
  if ! err=$(kill -USR1 "$p" 2>&1); then echo "#unreadable kill -USR1 $p: $err"; continue; fi
  i=0; while [ ! -s "$f" ] && [ $i -lt 30 ]; do sleep 0.1; i=$((i+1)); done
  sleep 0.2
  if [ -s "$f" ]; then ${PICK} "$f"; else echo "#unreadable keepalived wrote no data dump to $f within 3 s"; fi
done
exit 0
`;

/** The command that reads every keepalived of the node (through sudo when the lab's SSH user is not root). */
export function vrrpCommand(lab: Lab): string {
  const sudo = (lab.spec.credentials?.sshUser ?? 'root') === 'root' ? '' : 'sudo -n ';
  return `echo ${Buffer.from(SCRIPT).toString('base64')} | base64 -d | ${sudo}sh`;
}

/** The instances of one keepalived's picked dump lines. */
export function parseVrrpDump(text: string): VrrpInstance[] {
  const out: { name: string; state: string; vrid: number | undefined; addresses: string[] }[] = [];
  for (const line of text.split('\n')) {
    const instance = line.match(/^ VRRP Instance = (.+)$/);
    if (instance) {
      out.push({ name: instance[1]!.trim(), state: 'unknown', vrid: undefined, addresses: [] });
      continue;
    }
    const current = out.at(-1);
    if (!current) continue;
    const state = line.match(/^ {3}State = (\S+)/);
    const vrid = line.match(/^ {3}Virtual Router ID = (\d+)/);
    const address = line.match(/^ {5}([0-9a-fA-F.:]+)(?:\/\d+)?\s/);
    if (state && current.state === 'unknown') current.state = state[1]!;
    else if (vrid) current.vrid = Number(vrid[1]);
    else if (address) current.addresses.push(address[1]!);
  }
  return out;
}

/** Every keepalived in the node's network namespace with its instances; none when keepalived does not run there. */
export function parseVrrpOutput(text: string): Keepalived[] {
  return text
    .split(/^#keepalived /m)
    .slice(1)
    .map((block) => {
      const [head = '', ...rest] = block.split('\n');
      const body = rest.join('\n');
      const unreadable = body.match(/^#unreadable (.*)$/m)?.[1];
      return { pid: Number(head.trim()), instances: unreadable ? [] : parseVrrpDump(body), ...(unreadable ? { unreadable } : {}) };
    });
}

export async function nodeVrrp(lab: Lab, shell: NodeShell): Promise<Keepalived[]> {
  const r = await shell.run(vrrpCommand(lab));
  if (r.code !== 0 && !r.stdout.includes('#keepalived')) {
    throw new Error(`on ${shell.node.name}: reading keepalived's VRRP state failed (exit ${r.code}): ${r.stderr.trim().slice(0, 200)}`);
  }
  // Without pgrep no keepalived can be found: that is no answer, not "keepalived does not run".
  if (r.stdout.startsWith('#no-pgrep')) throw new Error(`on ${shell.node.name}: no pgrep to find keepalived with`);
  return parseVrrpOutput(r.stdout);
}
