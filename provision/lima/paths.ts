/**
 * Where the `lima` provider keeps things, relative to the repository root (every command runs there, so the plan
 * reads the same on every machine). Everything lives under the git-ignored `.stackgate/<lab>/`:
 *   render/     the rendered files (deterministic, no secrets)
 *   (root)      Kolla's config dir: globals.yml, passwords.yml (kolla-genpwd), certificates/, config/, clouds.yaml
 *   ssh/        the lab's SSH key pair and known_hosts        venv/  the Python venv with kolla-ansible
 *   ceph/       keyrings and ceph.conf fetched from the cluster  lima/  sudoers, step state and step logs
 * The spec's credentials (secretsFile, caFile, cloudsFile, sshKey) win where they name a path.
 */
import { dirname, join } from 'node:path';
import type { Lab } from '../../helpers/lab/model.ts';
import { repoPath } from '../render/common.ts';

export interface LimaPaths {
  readonly state: string;
  readonly render: string;
  /** Kolla-Ansible's --configdir (the folder of passwords.yml). */
  readonly kolla: string;
  readonly passwords: string;
  readonly sshKey: string;
  readonly knownHosts: string;
  readonly venv: string;
  readonly ceph: string;
  readonly lima: string;
  readonly stateFile: string;
  readonly logs: string;
}

export function limaPaths(lab: Lab): LimaPaths {
  const state = join('.stackgate', lab.name);
  const c = lab.spec.credentials ?? {};
  const passwords = c.secretsFile ? repoPath(lab.path(c.secretsFile)) : join(state, 'passwords.yml');
  const lima = join(state, 'lima');
  return {
    state,
    render: join(state, 'render'),
    kolla: dirname(passwords),
    passwords,
    sshKey: c.sshKey ? repoPath(lab.path(c.sshKey)) : join(state, 'ssh/id_ed25519'),
    knownHosts: c.sshKnownHosts ? repoPath(lab.path(c.sshKnownHosts)) : join(state, 'ssh/known_hosts'),
    venv: join(state, 'venv'),
    ceph: join(state, 'ceph'),
    lima,
    stateFile: join(lima, 'state.json'),
    logs: join(lima, 'logs'),
  };
}
