import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { Lab } from '../lab/model.ts';
import { addSecret } from '../gate/redact.ts';

/** Password credentials for Keystone, from clouds.yaml or OS_* variables; never from a lab spec. */
export interface Credentials {
  readonly source: string;
  readonly authUrl: string;
  readonly username: string;
  readonly password: string;
  readonly projectName: string;
  readonly userDomainName: string;
  readonly projectDomainName: string;
  readonly regionName: string | undefined;
  readonly interface: string;
  /** The CA bundle that verifies the lab's endpoints; undefined means the system store. */
  readonly cacert: string | undefined;
}

export class CredentialsError extends Error {
  override name = 'CredentialsError';
}

interface CloudEntry {
  auth?: Record<string, string | undefined>;
  region_name?: string;
  interface?: string;
  cacert?: string;
}

function cloudsFiles(lab: Lab, env: NodeJS.ProcessEnv): string[] {
  const files = [
    env.OS_CLIENT_CONFIG_FILE,
    lab.spec.credentials?.cloudsFile ? lab.path(lab.spec.credentials.cloudsFile) : undefined,
    join(process.cwd(), 'clouds.yaml'),
    join(homedir(), '.config/openstack/clouds.yaml'),
    '/etc/openstack/clouds.yaml',
  ];
  return files.filter((f): f is string => typeof f === 'string' && existsSync(f));
}

function fromCloud(lab: Lab, cloud: string, env: NodeJS.ProcessEnv): Credentials {
  const files = cloudsFiles(lab, env);
  for (const file of files) {
    const clouds = (parse(readFileSync(file, 'utf8')) as { clouds?: Record<string, CloudEntry> } | null)?.clouds ?? {};
    const entry = clouds[cloud];
    if (!entry) continue;
    const a = entry.auth ?? {};
    const missing = ['auth_url', 'username', 'password', 'project_name'].filter((k) => !a[k]);
    if (missing.length) throw new CredentialsError(`cloud "${cloud}" in ${file} lacks auth.${missing.join(', auth.')}`);
    addSecret(a.password);
    return {
      source: `clouds.yaml ${file} cloud ${cloud}`,
      authUrl: a.auth_url!,
      username: a.username!,
      password: a.password!,
      projectName: a.project_name!,
      userDomainName: a.user_domain_name ?? a.domain_name ?? 'Default',
      projectDomainName: a.project_domain_name ?? a.domain_name ?? 'Default',
      regionName: entry.region_name,
      interface: entry.interface ?? 'public',
      cacert: env.OS_CACERT ?? entry.cacert ?? lab.caFile,
    };
  }
  throw new CredentialsError(
    `no cloud "${cloud}" for lab ${lab.name}: looked in ${files.length ? files.join(', ') : 'no clouds.yaml found (OS_CLIENT_CONFIG_FILE, the spec\'s credentials.cloudsFile, ./clouds.yaml, ~/.config/openstack, /etc/openstack)'}`,
  );
}

/** OS_CLOUD, then OS_* variables, then the spec's cloud name. One clear error when none gives credentials. */
export function loadCredentials(lab: Lab, env: NodeJS.ProcessEnv = process.env): Credentials {
  if (env.OS_CLOUD) return fromCloud(lab, env.OS_CLOUD, env);
  if (env.OS_AUTH_URL) {
    const missing = ['OS_USERNAME', 'OS_PASSWORD', 'OS_PROJECT_NAME'].filter((k) => !env[k]);
    if (missing.length) throw new CredentialsError(`OS_AUTH_URL is set but ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not`);
    addSecret(env.OS_PASSWORD);
    return {
      source: 'OS_* environment variables',
      authUrl: env.OS_AUTH_URL,
      username: env.OS_USERNAME!,
      password: env.OS_PASSWORD!,
      projectName: env.OS_PROJECT_NAME!,
      userDomainName: env.OS_USER_DOMAIN_NAME ?? 'Default',
      projectDomainName: env.OS_PROJECT_DOMAIN_NAME ?? 'Default',
      regionName: env.OS_REGION_NAME,
      interface: env.OS_INTERFACE ?? 'public',
      cacert: env.OS_CACERT ?? lab.caFile,
    };
  }
  if (lab.spec.credentials?.cloud) return fromCloud(lab, lab.spec.credentials.cloud, env);
  throw new CredentialsError(`no credentials for lab ${lab.name}: set OS_CLOUD (clouds.yaml) or OS_AUTH_URL/OS_USERNAME/OS_PASSWORD/OS_PROJECT_NAME, or name a cloud in the spec's credentials.cloud`);
}
