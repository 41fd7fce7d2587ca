import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { NodeSSH } from 'node-ssh';
import { sshPort, sshUser } from '../lab/defaults.ts';
import type { Lab, LabNode } from '../lab/model.ts';

export interface CommandResult {
  readonly node: string;
  readonly command: string;
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number | null;
}

export class NodeCommandError extends Error {
  override name = 'NodeCommandError';
  constructor(readonly result: CommandResult) {
    super(`on ${result.node}: \`${result.command}\` exited ${result.code}: ${(result.stderr || result.stdout).trim().split('\n').slice(-3).join(' | ')}`);
  }
}

/** Host keys a node may present, from known_hosts; verification is never switched off. */
export function knownHostKeys(file: string, host: string, port = 22): string[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 3 && f[0]!.split(',').some((h) => h === `[${host}]:${port}` || (port === 22 && h === host)))
    .map((f) => f[2]!);
}

/** The SSH key and known_hosts file node checks use: the spec's, else the user's own. */
export function sshFiles(lab: Lab): { key: string; knownHosts: string } {
  const c = lab.spec.credentials ?? {};
  return {
    key: c.sshKey ? lab.path(c.sshKey) : join(homedir(), '.ssh/id_ed25519'),
    knownHosts: c.sshKnownHosts ? lab.path(c.sshKnownHosts) : join(homedir(), '.ssh/known_hosts'),
  };
}

/**
 * Why no node of the lab can be reached over SSH at all — its key or known_hosts file is missing (a second
 * checkout, a real lab before its keys are copied) — naming the file and how to get it; undefined when both exist.
 */
export function sshCredentialsMissing(lab: Lab): string | undefined {
  const { key, knownHosts } = sshFiles(lab);
  const c = lab.spec.credentials ?? {};
  const missing = [
    !existsSync(key) && `the SSH key ${key} (${c.sshKey ? 'credentials.sshKey' : 'no credentials.sshKey in the spec: the default'})`,
    !existsSync(knownHosts) && `the known_hosts file ${knownHosts} (${c.sshKnownHosts ? 'credentials.sshKnownHosts' : 'no credentials.sshKnownHosts in the spec: the default'})`,
  ].filter((x): x is string => !!x);
  if (missing.length === 0) return undefined;
  const how =
    lab.provider === 'local' || lab.provider === 'lima'
      ? `\`npm run lab -- up --lab ${lab.name}\` writes ${missing.length > 1 ? 'them' : 'it'} for this lab (or copy ${missing.length > 1 ? 'them' : 'it'} from the checkout that brought the lab up)`
      : `copy ${missing.length > 1 ? 'them' : 'it'} from the lab's deploy host, or point the spec's credentials at where ${missing.length > 1 ? 'they are' : 'it is'}`;
  return `lab ${lab.name}: ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} missing, so no node can be verified or logged into over SSH: ${how}`;
}

/** What SSH needs of a host: a name for messages and an address (a lab node, or a host beside the lab). */
export type SshHost = Pick<LabNode, 'name' | 'managementAddress'>;

/** A shell on one lab node (or a host beside the lab) over SSH, connected on first use. */
export class NodeShell {
  private ssh: Promise<NodeSSH> | undefined;
  readonly address: string;

  constructor(
    readonly lab: Lab,
    readonly node: SshHost,
  ) {
    if (!node.managementAddress) throw new Error(`node ${node.name} of lab ${lab.name} has no management address to SSH to`);
    this.address = node.managementAddress;
  }

  private async connect(): Promise<NodeSSH> {
    const { key: keyPath, knownHosts } = sshFiles(this.lab);
    const allowed = knownHostKeys(knownHosts, this.address, sshPort(this.lab));
    if (allowed.length === 0) {
      throw new Error(`no host key for ${this.node.name} (${this.address}) in ${knownHosts}: cannot verify the node, so no SSH`);
    }
    if (!existsSync(keyPath)) throw new Error(`SSH key for lab ${this.lab.name} not found at ${keyPath} (credentials.sshKey)`);
    // Loaded on first use: layers that never reach a node (tls, dns) do not pay for ssh2.
    const { NodeSSH } = await import('node-ssh');
    return new NodeSSH().connect({
      host: this.address,
      port: sshPort(this.lab),
      username: sshUser(this.lab),
      privateKeyPath: keyPath,
      readyTimeout: 10_000,
      hostVerifier: (key: Buffer) => allowed.includes(key.toString('base64')),
    } as Parameters<NodeSSH['connect']>[0]);
  }

  /**
   * Run a command; the result comes back whatever the exit code, the caller decides. `stdin` is how a password
   * reaches the node: never on the command line, where ps and the logs would show it.
   */
  async run(command: string, stdin?: string): Promise<CommandResult> {
    let ssh = await this.session();
    // The node rebooted (or sshd restarted) since: its connection is gone, so connect again, once.
    if (!ssh.isConnected()) {
      this.ssh = undefined;
      ssh = await this.session();
    }
    const r = await ssh.execCommand(command, stdin === undefined ? {} : { stdin });
    return { node: this.node.name, command, stdout: r.stdout, stderr: r.stderr, code: r.code };
  }

  /** The connection, made on first use; a failed attempt is not kept, so a later call tries again. */
  private session(): Promise<NodeSSH> {
    const attempt = (this.ssh ??= this.connect());
    attempt.catch(() => {
      if (this.ssh === attempt) this.ssh = undefined;
    });
    return attempt;
  }

  /** Run a command that must succeed; its stdout. */
  async out(command: string, stdin?: string): Promise<string> {
    const r = await this.run(command, stdin);
    if (r.code !== 0) throw new NodeCommandError(r);
    return r.stdout;
  }

  async close(): Promise<void> {
    if (!this.ssh) return;
    const ssh = await this.ssh.catch(() => undefined);
    ssh?.dispose();
    this.ssh = undefined;
  }
}
