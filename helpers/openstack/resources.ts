/**
 * How each kind of cloud resource a run creates is found by name and removed, and the reaper that removes what
 * earlier runs left: everything their ledgers list, then anything named sg-<run>- of a run that no longer runs.
 */
import { liveRuns, outstanding, readLedger, retire, runOf, runs, Ledger } from '../gate/ledger.ts';
import { existsSync } from 'node:fs';
import { ApiError, type Cloud } from './cloud.ts';
import { removeState, stateFileOf } from './shared-guest.ts';
import { waitFor } from './wait.ts';

export interface Found {
  readonly id: string;
  readonly name: string;
}

interface Kind {
  /** Resources of this kind whose name (or description) starts with sg-. */
  list(cloud: Cloud): Promise<Found[]>;
  /** Remove by ID; already gone is success. */
  remove(cloud: Cloud, id: string): Promise<void>;
}

const gone = [200, 202, 204, 404];

async function until404(cloud: Cloud, type: string, path: string, what: string, timeoutMs = 120_000): Promise<void> {
  await waitFor(() => cloud.get<{ [k: string]: { status?: string } }>(type, path, { ok: [200, 404] }).then((r) => (r.status === 404 ? 'gone' : (Object.values(r.body ?? {})[0]?.status ?? 'present'))), {
    what,
    timeoutMs,
    // A server's deletion (a check's claim, and each run's last step) takes seconds: a growing pause only adds to it.
    steady: true,
    state: (s) => s,
    done: (s) => s === 'gone' || (s.startsWith('ERROR') ? `went to ${s} while being deleted` : false),
  });
}

const sg = (items: { id: string; name?: string | null; description?: string | null }[], field: 'name' | 'description' = 'name'): Found[] =>
  items.filter((x) => (x[field] ?? '').startsWith('sg-')).map((x) => ({ id: x.id, name: x[field] ?? '' }));

export const KINDS: Record<string, Kind> = {
  loadbalancer: {
    list: async (c) => sg((await c.get<{ loadbalancers: Found[] }>('load-balancer', '/v2/lbaas/loadbalancers')).body.loadbalancers),
    remove: async (c, id) => {
      const path = `/v2/lbaas/loadbalancers/${id}`;
      type Lb = { loadbalancer: { provisioning_status: string } };
      // Octavia refuses (409) while the load balancer is PENDING_*: wait that out, then delete it with all it holds.
      await waitFor(() => c.get<Lb>('load-balancer', path, { ok: [200, 404] }), {
        what: `load balancer ${id} settled`,
        timeoutMs: 300_000,
        state: (r) => (r.status === 404 ? 'gone' : r.body.loadbalancer.provisioning_status),
        done: (r) => r.status === 404 || !r.body.loadbalancer.provisioning_status.startsWith('PENDING_'),
      });
      await c.delete('load-balancer', `${path}?cascade=true`, { ok: gone });
      await waitFor(() => c.get<Lb>('load-balancer', path, { ok: [200, 404] }), {
        what: `load balancer ${id} deleted`,
        timeoutMs: 300_000,
        state: (r) => (r.status === 404 ? 'gone' : r.body.loadbalancer.provisioning_status),
        done: (r) => r.status === 404 || r.body.loadbalancer.provisioning_status === 'DELETED' || (r.body.loadbalancer.provisioning_status === 'ERROR' ? 'went to ERROR while being deleted' : false),
      });
    },
  },
  server: {
    list: async (c) => sg((await c.get<{ servers: Found[] }>('compute', '/servers?name=%5Esg-')).body.servers),
    remove: async (c, id) => {
      await c.delete('compute', `/servers/${id}`, { ok: gone });
      await until404(c, 'compute', `/servers/${id}`, `server ${id}`);
    },
  },
  floatingip: {
    list: async (c) => sg((await c.get<{ floatingips: Found[] }>('network', '/v2.0/floatingips')).body.floatingips, 'description'),
    remove: async (c, id) => void (await c.delete('network', `/v2.0/floatingips/${id}`, { ok: gone })),
  },
  'volume-snapshot': {
    list: async (c) => sg((await c.get<{ snapshots: Found[] }>('volumev3', '/snapshots')).body.snapshots),
    remove: async (c, id) => {
      await c.delete('volumev3', `/snapshots/${id}`, { ok: gone });
      await until404(c, 'volumev3', `/snapshots/${id}`, `snapshot ${id}`);
    },
  },
  volume: {
    list: async (c) => sg((await c.get<{ volumes: Found[] }>('volumev3', '/volumes')).body.volumes),
    remove: async (c, id) => {
      // An attached volume cannot be deleted: detach it from its servers first (a dead run may have left it in use).
      const r = await c.get<{ volume: { attachments?: { server_id: string }[] } }>('volumev3', `/volumes/${id}`, { ok: [200, 404] });
      const servers = r.status === 200 ? (r.body.volume.attachments ?? []).map((a) => a.server_id) : [];
      for (const server of servers) await c.delete('compute', `/servers/${server}/os-volume_attachments/${id}`, { ok: [...gone, 409] });
      if (servers.length) {
        await waitFor(() => c.get<{ volume: { status: string } }>('volumev3', `/volumes/${id}`, { ok: [200, 404] }), {
          what: `volume ${id} detached`,
          timeoutMs: 120_000,
          state: (x) => (x.status === 404 ? 'gone' : x.body.volume.status),
          done: (x) => x.status === 404 || !['in-use', 'detaching', 'attaching', 'reserved'].includes(x.body.volume.status),
        });
      }
      await c.delete('volumev3', `/volumes/${id}?cascade=true`, { ok: gone });
      await until404(c, 'volumev3', `/volumes/${id}`, `volume ${id}`);
    },
  },
  port: {
    list: async (c) => sg((await c.get<{ ports: Found[] }>('network', '/v2.0/ports')).body.ports),
    remove: async (c, id) => void (await c.delete('network', `/v2.0/ports/${id}`, { ok: gone })),
  },
  router: {
    list: async (c) => sg((await c.get<{ routers: Found[] }>('network', '/v2.0/routers')).body.routers),
    remove: async (c, id) => {
      const ports = (await c.get<{ ports: { id: string }[] }>('network', `/v2.0/ports?device_id=${id}&device_owner=network:router_interface`)).body.ports;
      for (const p of ports) await c.put('network', `/v2.0/routers/${id}/remove_router_interface`, { port_id: p.id }, { ok: gone });
      await c.delete('network', `/v2.0/routers/${id}`, { ok: gone });
    },
  },
  network: {
    list: async (c) => sg((await c.get<{ networks: Found[] }>('network', '/v2.0/networks')).body.networks),
    remove: async (c, id) => {
      // Ports a dead run left (its own, or a deleted server's) keep a network from being deleted.
      const ports = (await c.get<{ ports: { id: string; device_owner: string }[] }>('network', `/v2.0/ports?network_id=${id}`)).body.ports;
      for (const p of ports.filter((x) => x.device_owner === '' || x.device_owner.startsWith('compute:'))) {
        await c.delete('network', `/v2.0/ports/${p.id}`, { ok: gone });
      }
      await c.delete('network', `/v2.0/networks/${id}`, { ok: gone });
    },
  },
  'security-group': {
    list: async (c) => sg((await c.get<{ security_groups: Found[] }>('network', '/v2.0/security-groups')).body.security_groups),
    remove: async (c, id) => void (await c.delete('network', `/v2.0/security-groups/${id}`, { ok: gone })),
  },
  keypair: {
    list: async (c) =>
      (await c.get<{ keypairs: { keypair: { name: string } }[] }>('compute', '/os-keypairs')).body.keypairs
        .map((k) => k.keypair.name)
        .filter((n) => n.startsWith('sg-'))
        .map((n) => ({ id: n, name: n })),
    remove: async (c, id) => void (await c.delete('compute', `/os-keypairs/${encodeURIComponent(id)}`, { ok: gone })),
  },
  flavor: {
    list: async (c) => sg((await c.get<{ flavors: Found[] }>('compute', '/flavors?is_public=None')).body.flavors),
    remove: async (c, id) => void (await c.delete('compute', `/flavors/${id}`, { ok: gone })),
  },
  image: {
    list: async (c) => sg((await c.get<{ images: Found[] }>('image', '/v2/images?limit=1000')).body.images),
    remove: async (c, id) => void (await c.delete('image', `/v2/images/${id}`, { ok: gone })),
  },
  'volume-type': {
    list: async (c) => sg((await c.get<{ volume_types: Found[] }>('volumev3', '/types')).body.volume_types),
    remove: async (c, id) => void (await c.delete('volumev3', `/types/${id}`, { ok: gone })),
  },
};

/**
 * Removal order: what depends on another thing goes first (a port after its server and its floating IP, a router's
 * interfaces before its network, a volume type after its volumes); the kinds of one group may go side by side.
 */
export const REMOVAL_GROUPS = [
  ['loadbalancer', 'server', 'volume-snapshot'], ['floatingip', 'volume'], ['port'], ['router'],
  ['network', 'security-group'], ['keypair', 'flavor', 'image', 'volume-type'],
] as const;
export const ORDER = REMOVAL_GROUPS.flat();

export interface ReapResult {
  readonly removed: string[];
  readonly failed: string[];
}

function inCatalog(cloud: Cloud, kind: string): boolean {
  const type = { loadbalancer: 'load-balancer', server: 'compute', keypair: 'compute', flavor: 'compute', image: 'image', volume: 'volumev3', 'volume-snapshot': 'volumev3', 'volume-type': 'volumev3' }[kind] ?? 'network';
  return cloud.catalog.some((s) => s.type === type);
}

/**
 * Remove what runs that no longer run left behind: first what their ledgers list (by ID, or by name when the run
 * died between recording and creating), then anything named sg-<run>- of a run that is not alive.
 * `except` names runs to leave alone (the caller's own).
 */
export async function reap(cloud: Cloud, except: ReadonlySet<string> = new Set()): Promise<ReapResult> {
  const lab = cloud.lab.name;
  const live = new Set([...liveRuns(lab), ...except]);
  const removed: string[] = [];
  const failed: string[] = [];
  const lists = new Map<string, Promise<Found[]>>();
  const list = (kind: string) => {
    let l = lists.get(kind);
    if (!l) lists.set(kind, (l = inCatalog(cloud, kind) ? KINDS[kind]!.list(cloud) : Promise.resolve([])));
    return l;
  };

  const dead = runs(lab).filter((r) => !live.has(r.run));
  for (const kind of ORDER) {
    for (const r of dead) {
      const ledger = new Ledger(lab, { run: r.run, pid: r.pid });
      for (const e of outstanding(readLedger(r.file)).filter((x) => x.kind === kind)) {
        try {
          const ids = e.id ? [e.id] : (await list(kind)).filter((f) => f.name === e.name).map((f) => f.id);
          for (const id of ids) await KINDS[kind]!.remove(cloud, id);
          ledger.record(kind, e.name, 'deleted', e.id);
          removed.push(`${kind} ${e.name}`);
        } catch (error) {
          failed.push(`${kind} ${e.name}: ${(error as Error).message}`);
        }
      }
    }
    let found: Found[] = [];
    try {
      found = await list(kind);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      failed.push(`listing ${kind}: ${error.message}`);
    }
    for (const f of found) {
      const run = runOf(f.name);
      if (!run || live.has(run) || removed.includes(`${kind} ${f.name}`)) continue;
      try {
        await KINDS[kind]!.remove(cloud, f.id);
        removed.push(`${kind} ${f.name}`);
      } catch (error) {
        failed.push(`${kind} ${f.name}: ${(error as Error).message}`);
      }
    }
  }
  for (const r of dead) {
    retire(lab, r.run);
    // A killed run's shared-guest state says nothing once its resources are gone.
    if (!existsSync(r.file)) removeState(stateFileOf(lab, r.run));
  }
  return { removed, failed };
}

/** Every sg- resource in the cloud now, by kind (for self-tests and the leak drill). */
export async function sgResources(cloud: Cloud): Promise<Found[]> {
  const all: Found[] = [];
  for (const kind of ORDER) if (inCatalog(cloud, kind)) all.push(...(await KINDS[kind]!.list(cloud)).map((f) => ({ ...f, name: `${kind} ${f.name}` })));
  return all;
}
