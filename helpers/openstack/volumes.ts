/** Cinder as a tenant and an operator use it: services per backend, volume types, volumes and snapshots. */
import type { Ledger } from '../gate/ledger.ts';
import type { Lab } from '../lab/model.ts';
import type { CinderBackendSpec } from '../lab/spec.ts';
import type { Cloud } from './cloud.ts';
import { KINDS } from './resources.ts';
import { waitFor, WaitError } from './wait.ts';

export interface Volume {
  id: string;
  name: string;
  status: string;
  size: number;
  volume_type: string;
  'os-vol-host-attr:host'?: string | null;
  /** "true" or "false", as Cinder writes it. */
  bootable?: string;
  volume_image_metadata?: Readonly<Record<string, string>>;
}

export interface CinderService {
  binary: string;
  host: string;
  state: string;
  status: string;
}

export interface VolumeType {
  id: string;
  name: string;
  extra_specs?: Record<string, string>;
}

export async function cinderServices(cloud: Cloud): Promise<CinderService[]> {
  return (await cloud.get<{ services: CinderService[] }>('volumev3', '/os-services')).body.services;
}

export async function volumeTypes(cloud: Cloud): Promise<VolumeType[]> {
  return (await cloud.get<{ volume_types: VolumeType[] }>('volumev3', '/types?is_public=None')).body.volume_types;
}

/** The backends the lab runs now: due in its phase; the reason for each one left out. */
export function backendsNow(lab: Lab): { due: CinderBackendSpec[]; left: string[] } {
  const due: CinderBackendSpec[] = [];
  const left: string[] = [];
  for (const b of lab.cinderBackends) {
    const lacking = b.driver === 'lvm' ? lab.lacks('lvm') : undefined;
    if (b.phase > lab.storagePhase) left.push(`${b.name}: arrives in phase ${b.phase}, lab ${lab.name} is in phase ${lab.storagePhase}`);
    else if (lacking) left.push(`${b.name}: lab ${lab.name} lacks lvm (${lacking})`);
    else due.push(b);
  }
  return { due, left };
}

/** A backend's cinder-volume service: up, enabled, on a host the spec names (or a cluster-wide host for Ceph). */
export function serviceFindings(lab: Lab, backend: CinderBackendSpec, services: readonly CinderService[]): string[] {
  const mine = services.filter((s) => s.binary === 'cinder-volume' && s.host.endsWith(`@${backend.name}`));
  if (mine.length === 0) return [`no cinder-volume service for backend ${backend.name} (services: ${services.map((s) => `${s.binary} ${s.host}`).join(', ') || 'none'})`];
  const hosts = (backend.hosts ?? []).map((h) => lab.node(h).hostname);
  const findings: string[] = [];
  for (const s of mine) {
    const host = s.host.split('@')[0]!;
    // Kolla gives RBD backends one shared host (backend_host, e.g. rbd:volumes) so any cinder-volume can serve them.
    const shared = backend.driver === 'ceph' && host.includes(':');
    if (hosts.length && !shared && !hosts.includes(host.split('.')[0]!)) findings.push(`cinder-volume ${s.host} runs on ${host}, the spec places ${backend.name} on ${hosts.join(', ')}`);
    if (s.state !== 'up' || s.status !== 'enabled') findings.push(`cinder-volume ${s.host} is ${s.state}/${s.status}`);
  }
  return findings;
}

/** cinder-backup runs exactly when the spec's phase has it. */
export function backupFindings(lab: Lab, services: readonly CinderService[]): string[] {
  const backup = lab.spec.storage?.cinder?.backup;
  const running = services.filter((s) => s.binary === 'cinder-backup');
  const due = backup && (backup.phase ?? 1) <= lab.storagePhase;
  if (!due) return running.map((s) => `cinder-backup runs on ${s.host} although the spec has no backup in phase ${lab.storagePhase}`);
  if (running.length === 0) return [`no cinder-backup service, the spec has backup (${backup.driver ?? 'default driver'}) from phase ${backup.phase ?? 1}`];
  return running.filter((s) => s.state !== 'up').map((s) => `cinder-backup on ${s.host} is ${s.state}`);
}

export class Volumes {
  constructor(
    readonly cloud: Cloud,
    readonly ledger: Ledger,
  ) {}

  get(id: string): Promise<Volume> {
    return this.cloud.get<{ volume: Volume }>('volumev3', `/volumes/${id}`).then((r) => r.body.volume);
  }

  /** Wait for a status; error states end the wait with the volume's status in the message. */
  async until(id: string, what: string, want: string, timeoutMs = 300_000): Promise<Volume> {
    const { value } = await waitFor(() => this.get(id), {
      what,
      timeoutMs,
      intervalMs: 500,
      state: (v) => v.status,
      done: (v) => v.status === want || (v.status.startsWith('error') ? `went to ${v.status}` : false),
    });
    return value;
  }

  async create(what: string, body: { size: number; volume_type?: string; imageRef?: string }): Promise<Volume> {
    const c = this.cloud;
    const created = await this.ledger.create(
      'volume',
      what,
      async (name) => (await c.post<{ volume: Volume }>('volumev3', '/volumes', { volume: { name, ...body } })).body.volume,
      (v) => KINDS.volume!.remove(c, v.id),
    );
    try {
      return await this.until(created.id, `volume ${created.name}`, 'available');
    } catch (error) {
      if (!(error instanceof WaitError)) throw error;
      throw new WaitError(`${error.message}; ${await this.diagnosis(created.id)}`, error.transitions);
    }
  }

  /** Why a volume did not become available: Cinder's own user messages about it and the cinder-volume services. */
  async diagnosis(id: string): Promise<string> {
    const messages = await this.cloud
      // User messages exist from microversion 3.3.
      .get<{ messages: { user_message: string }[] }>('volumev3', `/messages?resource_uuid=${id}`, { headers: { 'openstack-api-version': 'volume 3.3' } })
      .then((r) => r.body.messages.map((m) => m.user_message))
      .catch(() => []);
    const services = await cinderServices(this.cloud).catch(() => []);
    const volume = services.filter((s) => s.binary === 'cinder-volume').map((s) => `${s.binary} ${s.host} is ${s.state}/${s.status}`);
    return `Cinder says: ${messages.join('; ') || 'nothing'}; ${volume.join(', ') || 'no cinder-volume service'}`;
  }

  async extend(v: Volume, size: number): Promise<Volume> {
    await this.cloud.post('volumev3', `/volumes/${v.id}/action`, { 'os-extend': { new_size: size } });
    const { value } = await waitFor(() => this.get(v.id), {
      what: `volume ${v.name} extended to ${size} GiB`,
      timeoutMs: 120_000,
      state: (x) => `${x.status} ${x.size} GiB`,
      done: (x) => (x.status === 'available' && x.size === size) || (x.status.startsWith('error') ? `went to ${x.status}` : false),
    });
    return value;
  }

  async snapshot(v: Volume, what: string): Promise<{ id: string; name: string; status: string }> {
    const c = this.cloud;
    const snap = await this.ledger.create(
      'volume-snapshot',
      what,
      async (name) => (await c.post<{ snapshot: { id: string; name: string; status: string } }>('volumev3', '/snapshots', { snapshot: { name, volume_id: v.id } })).body.snapshot,
      (s) => KINDS['volume-snapshot']!.remove(c, s.id),
    );
    const { value } = await waitFor(() => c.get<{ snapshot: { id: string; name: string; status: string } }>('volumev3', `/snapshots/${snap.id}`).then((r) => r.body.snapshot), {
      what: `snapshot ${snap.name}`,
      timeoutMs: 120_000,
      state: (s) => s.status,
      done: (s) => s.status === 'available' || (s.status.startsWith('error') ? `went to ${s.status}` : false),
    });
    return value;
  }

  /** Attach to a server through Nova; wait until Cinder shows it in-use (back to available means the attach failed). */
  async attach(v: Volume, serverId: string): Promise<Volume> {
    await this.cloud.post('compute', `/servers/${serverId}/os-volume_attachments`, { volumeAttachment: { volumeId: v.id } });
    let started = false;
    const { value } = await waitFor(() => this.get(v.id), {
      what: `volume ${v.name} attached to server ${serverId}`,
      timeoutMs: 180_000,
      state: (x) => x.status,
      done: (x) => {
        if (x.status === 'in-use') return true;
        if (x.status !== 'available') started = true;
        return x.status.startsWith('error') || (started && x.status === 'available') ? `went ${x.status} instead of in-use` : false;
      },
    });
    return value;
  }

  /** Detach through Nova; wait until the volume is available again. */
  async detach(v: Volume, serverId: string): Promise<Volume> {
    await this.cloud.delete('compute', `/servers/${serverId}/os-volume_attachments/${v.id}`);
    return this.until(v.id, `volume ${v.name} detached from server ${serverId}`, 'available', 180_000);
  }

  /** Retype with migration and wait until the volume sits on the new backend. */
  async retype(v: Volume, type: string, backend: string): Promise<Volume> {
    await this.cloud.post('volumev3', `/volumes/${v.id}/action`, { 'os-retype': { new_type: type, migration_policy: 'on-demand' } });
    const { value } = await waitFor(() => this.get(v.id), {
      what: `volume ${v.name} retyped to ${type}`,
      timeoutMs: 300_000,
      intervalMs: 1000,
      state: (x) => `${x.status} ${x.volume_type} ${x['os-vol-host-attr:host'] ?? '-'}`,
      done: (x) => (x.status === 'available' && x.volume_type === type && (x['os-vol-host-attr:host'] ?? '').includes(`@${backend}`)) || (x.status.startsWith('error') ? `went to ${x.status}` : false),
    });
    return value;
  }
}
