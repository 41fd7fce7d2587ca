/**
 * A component of the embedded lab: one service (or a few daemons that only make sense together), with the same few
 * hooks in each, as DevStack's lib/<service> (install, configure, init, start) and Kolla's roles (config, bootstrap,
 * deploy, checks). The orchestrator walks the components the spec needs in `after` order and knows nothing else of
 * them; a component never imports the orchestrator.
 */
import type { Lab, LabNode } from '../../helpers/lab/model.ts';
import type { Cloud } from '../../helpers/openstack/cloud.ts';
import type { LabPaths } from './paths.ts';

export interface RenderedFile {
  readonly path: string;
  readonly content: string;
  readonly mode?: number;
  /** Owner (a system user created by the Debian package) when the daemon must read or write it after dropping root. */
  readonly owner?: string;
  /**
   * The part of a shared file this daemon reads (ceph.conf's [global], [osd] and [osd.2] for osd.2): a change
   * elsewhere in the file does not restart it. Without it, any change of the content does.
   */
  readonly relevant?: (content: string) => string;
}

export interface RenderedDir {
  readonly path: string;
  readonly owner?: string;
  readonly mode?: number;
}

export type Health =
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number }
  | { readonly kind: 'vip'; readonly address: string };

export interface Daemon {
  readonly node: string;
  /** Short service name, e.g. bind, haproxy, node-exporter. */
  readonly service: string;
  /** Supervisor program name: <node>-<service>. */
  readonly program: string;
  /** The command inside the node's namespace (argv). */
  readonly argv: readonly string[];
  /** Unprivileged user the daemon runs as (via setpriv), when it does not drop privileges itself. */
  readonly user?: string;
  readonly files: readonly RenderedFile[];
  /** Directories the daemon writes, created before start (owned by `owner`). */
  readonly dirs: readonly RenderedDir[];
  readonly health: readonly Health[];
  readonly stopSignal?: 'TERM' | 'INT' | 'QUIT' | 'USR1';
  /** Not autostarted by supervisor: the orchestrator starts it once its component's bootstrap is done. */
  readonly manual?: boolean;
  /**
   * `node-netns`: enter only the node's network namespace, in a mount namespace that is the host's but for /run/netns,
   * which is the node's own (`LabPaths.netns`, node-netns.ts): network namespaces the daemon creates (`ip netns add`)
   * are visible to every later command of the node and to `lab down` there, and never clash with another node's.
   */
  readonly mounts?: 'node-netns';
}

/** A daemon with the defaults every component uses: program <node>-<service>, started by the orchestrator. */
export function daemon(
  node: LabNode,
  service: string,
  d: Pick<Daemon, 'argv'> & Partial<Omit<Daemon, 'node' | 'service' | 'program' | 'argv'>>,
): Daemon {
  return { node: node.name, service, program: `${node.name}-${service}`, manual: true, files: [], dirs: [], health: [], ...d };
}

/** What every hook is given: the spec and where the lab's state lives. */
export interface LabContext {
  readonly lab: Lab;
  readonly paths: LabPaths;
}

/** A step of `lab up`, shown with progress (and a heartbeat when it takes long). */
export type Step = <T>(title: string, fn: () => Promise<T>) => Promise<T>;

/** What the hooks of `lab up` are given beyond the spec: progress, and which of the component's programs changed. */
export interface UpContext extends LabContext {
  readonly step: Step;
  /** This component's daemons, as rendered. */
  readonly daemons: readonly Daemon[];
  /** Programs (of any component) whose rendered files changed in this `up`: they restart when they start. */
  readonly changed: ReadonlySet<string>;
  /** Programs whose rendered files this `up` rewrote, also where they start afresh (and `changed` is empty). */
  readonly rewritten?: ReadonlySet<string>;
  /** Run when `up` ends, however it ends: cleanup registered where the thing is made (a session, an agent). */
  readonly defer: (cleanup: () => Promise<unknown>) => void;
}

/** One thing the checks need before they can judge: `probe` answers true, or what it saw instead. */
export interface Condition {
  readonly what: string;
  readonly probe: () => Promise<true | string>;
}

export interface ReadyContext extends LabContext {
  /** One admin session for every probe (made on first use). */
  readonly cloud: () => Promise<Cloud>;
}

export interface Component {
  readonly name: string;
  /** Components whose daemons must run (and whose hooks must be done) before this one starts; unneeded ones are skipped. */
  readonly after?: readonly string[];
  /** Whether the lab spec has this component at all. */
  needed(lab: Lab): boolean;
  /** Debian packages it runs from (installed in one apt step with every other component's). */
  packages?(lab: Lab): readonly string[];
  /** debconf answers set before apt runs (no maintainer script may configure a database or an endpoint). */
  preseeds?(lab: Lab): readonly string[];
  /** Generated once and kept in the state dir before anything is rendered: keys, certificates, passwords. */
  keys?(ctx: LabContext): Promise<string>;
  /** Its daemons with their files, directories and health probes; pure (reads the keys made before). */
  render?(ctx: LabContext): readonly Daemon[];
  /** Files that belong to no daemon (clouds.yaml, known_hosts): written with the daemons' files. */
  files?(ctx: LabContext): readonly RenderedFile[];
  /** One-time steps before its daemons start (stores, databases, db sync, keys); each resumable, skipped when done. */
  bootstrap?(ctx: UpContext): Promise<void>;
  /** Once its daemons run: registrations and wiring through their APIs. */
  configure?(ctx: UpContext): Promise<void>;
  /** After its daemons stopped (`lab down`): what it made outside its daemons (namespaces, host-wide secrets). */
  stop?(ctx: LabContext): Promise<string>;
  /** What `lab up` waits for before it calls the lab ready for every check. */
  ready?(ctx: ReadyContext): readonly Condition[];
  /** Durable state: what must survive a reboot of its nodes (data directories, stores, keys). */
  keeps?(ctx: LabContext): readonly string[];
}
