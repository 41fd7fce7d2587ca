/** Cinder: API and scheduler on the control node, cinder-volume on each backend host the phase runs, cinder-backup. */
import { readFileSync } from 'node:fs';
import type { Lab, LabNode } from '../../../helpers/lab/model.ts';
import { backendsNow, cinderServices, serviceFindings } from '../../../helpers/openstack/volumes.ts';
import { viaVip, type Api } from '../api.ts';
import { cephConf, cephDue } from '../ceph/common.ts';
import { daemon, type Component, type Condition, type Daemon, type ReadyContext, type RenderedFile, type UpContext } from '../component.ts';
import { head, ini, type IniSections } from '../config.ts';
import { inNode, once } from '../exec.ts';
import type { LabPaths } from '../paths.ts';
import {
  adminApi, answersViaVip, authtoken, caForServices, cephConsumer, dbUrl, hasService, ksAuth, openstackContext, serviceUrl,
  servicePort, nodeDefaults, uwsgi, type OpenstackContext,
} from './common.ts';
import { serviceBootstrap } from './service.ts';

export const cinderDir = (paths: LabPaths, node: LabNode) => paths.node(node.name, 'cinder');

/** cinder-backup runs when the spec's backup phase has come (with the Ceph driver: when Ceph is due too). */
export function backupDue(lab: Lab): boolean {
  const b = lab.spec.storage?.cinder?.backup;
  if (!b?.phase || b.phase > lab.storagePhase) return false;
  return b.driver === 'ceph' ? cephDue(lab) : false;
}

/**
 * The spec's Cinder backends of the phase the lab is in, with what this lab can run: a Ceph backend when Ceph is
 * due; an LVM backend never here (the local provider builds no volume group; the lab declares `lacks: lvm`).
 */
export function cinderBackends(lab: Lab): { name: string; driver: string; volumeType?: string; hosts: string[]; runs: boolean; why?: string }[] {
  return lab.cinderBackends
    .filter((b) => b.phase <= lab.storagePhase)
    .map((b) => {
      const base = { name: b.name, driver: b.driver, volumeType: b.volumeType, hosts: b.hosts ?? [] };
      if (b.driver === 'ceph') return cephDue(lab) ? { ...base, runs: true } : { ...base, runs: false, why: 'Ceph is not due' };
      const lacks = b.driver === 'lvm' ? lab.lacks('lvm') : undefined;
      return { ...base, runs: false, why: lacks ? `lab lacks lvm: ${lacks}` : `the local provider runs no ${b.driver} backend` };
    });
}

function cinderConf(c: OpenstackContext, node: LabNode, dir: string, extra: IniSections = {}): string {
  const { DEFAULT: more, ...sections } = extra;
  return ini(
    {
      DEFAULT: {
        ...nodeDefaults(c, node, dir),
        auth_strategy: 'keystone',
        osapi_volume_workers: 1,
        api_paste_config: '/etc/cinder/api-paste.ini',
        // As Kolla: Glance on its internal endpoint, verified with the lab CA. Cinder's Glance session takes its CA
        // from here, not from [glance]: without it a volume from an image is refused ("Invalid image identifier").
        ...(c.lab.spec.services?.glance
          ? { glance_api_servers: serviceUrl(c.lab, 'glance', 'internal'), glance_ca_certificates_file: caForServices(c.paths) }
          : {}),
        ...more,
      },
      database: { connection: dbUrl(c, 'cinder', 'cinder'), max_retries: -1 },
      keystone_authtoken: authtoken(c, 'cinder'),
      service_user: { send_service_user_token: true, ...ksAuth(c, 'cinder') },
      nova: { ...ksAuth(c, 'nova'), interface: 'internal' },
      glance: { cafile: caForServices(c.paths), region_name: c.lab.region },
      oslo_concurrency: { lock_path: `${dir}/lock` },
      oslo_messaging_notifications: { driver: 'noop' },
      oslo_middleware: { enable_proxy_headers_parsing: true },
      ...sections,
    },
    head(c.lab, node, 'cinder.conf'),
  );
}

function renderCinder(c: OpenstackContext): Daemon[] {
  const node = c.layout.control;
  const dir = cinderDir(c.paths, node);
  const file = { path: `${dir}/cinder.conf`, content: cinderConf(c, node, dir), owner: 'cinder', mode: 0o640 } satisfies RenderedFile;
  const dirs = [{ path: dir, owner: 'cinder' }, { path: `${dir}/lock`, owner: 'cinder' }];
  const api = uwsgi(c, node, {
    service: 'cinder-api', user: 'cinder', wsgiFile: '/usr/bin/cinder-wsgi', port: servicePort(c.lab, 'cinder'), dir,
    pyargv: `--config-file ${dir}/cinder.conf`,
  });
  const out: Daemon[] = [
    { ...api, files: [...api.files, file], dirs: [...api.dirs, ...dirs] },
    daemon(node, 'cinder-scheduler', { argv: ['/usr/bin/cinder-scheduler', '--config-file', `${dir}/cinder.conf`], user: 'cinder', files: [file], dirs }),
  ];
  // cinder-volume on each host of a backend the lab runs (the spec's backend hosts), cinder-backup beside it.
  const rbd = cephConsumer(c.lab, 'cinder');
  const backup = backupDue(c.lab) ? cephConsumer(c.lab, 'cinder-backup') : undefined;
  const running = cinderBackends(c.lab).filter((b) => b.runs);
  const hosts = [...new Set(running.flatMap((b) => b.hosts))];
  for (const h of hosts) {
    const vn = c.lab.node(h);
    // On the control node the volume service gets a directory of its own.
    const vdir = vn.name === node.name ? `${cinderDir(c.paths, vn)}-volume` : cinderDir(c.paths, vn);
    const mine = running.filter((b) => b.hosts.includes(h));
    const sections: IniSections = {
      DEFAULT: {
        enabled_backends: mine.map((b) => b.name).join(','),
        ...(backup ? { backup_driver: 'cinder.backup.drivers.ceph.CephBackupDriver', backup_ceph_conf: cephConf(c.paths), backup_ceph_user: backup.user, backup_ceph_pool: backup.pool } : {}),
      },
    };
    for (const b of mine) {
      if (b.driver === 'ceph' && rbd) {
        sections[b.name] = {
          volume_driver: 'cinder.volume.drivers.rbd.RBDDriver',
          volume_backend_name: b.name,
          rbd_pool: rbd.pool,
          rbd_user: rbd.user,
          // The key of rbd_user, defined as this libvirt secret on the compute nodes: QEMU attaches volumes with it.
          rbd_secret_uuid: c.secrets.rbdSecretUuid,
          rbd_ceph_conf: cephConf(c.paths),
          rbd_flatten_volume_from_snapshot: false,
          rbd_max_clone_depth: 5,
          rados_connect_timeout: 10,
          report_discard_supported: true,
        };
      }
    }
    const vfile = { path: `${vdir}/cinder.conf`, content: cinderConf(c, vn, vdir, sections), owner: 'cinder', mode: 0o640 } satisfies RenderedFile;
    const vdirs = [{ path: vdir, owner: 'cinder' }, { path: `${vdir}/lock`, owner: 'cinder' }];
    out.push(daemon(vn, 'cinder-volume', { argv: ['/usr/bin/cinder-volume', '--config-file', vfile.path], user: 'cinder', files: [vfile], dirs: vdirs }));
    if (backup && h === hosts[0]) out.push(daemon(vn, 'cinder-backup', { argv: ['/usr/bin/cinder-backup', '--config-file', vfile.path], user: 'cinder', files: [vfile], dirs: vdirs }));
  }
  return out;
}

type Obj = { id: string; name?: string; [k: string]: unknown };

/**
 * A public volume type per backend of the phase the lab is in that it can run (volume_backend_name = the backend
 * section); a backend it cannot run gets no type (nothing may be scheduled onto a backend that does not exist).
 */
async function ensureVolumeTypes(lab: Lab, api: Api): Promise<string> {
  const ks = viaVip(lab, 'keystone');
  const project = (await api.call<{ projects: Obj[] }>('GET', `${ks}/v3/projects?name=admin&domain_id=default`)).body.projects[0];
  if (!project) throw new Error('no admin project');
  const base = `${viaVip(lab, 'cinder')}${lab.spec.services!.cinder!.path ?? '/v3'}/${project.id}`;
  const notes: string[] = [];
  const types = (await api.call<{ volume_types: (Obj & { extra_specs?: Record<string, string> })[] }>('GET', `${base}/types?is_public=None`)).body.volume_types;
  for (const b of cinderBackends(lab)) {
    if (!b.runs || !b.volumeType) {
      notes.push(`${b.name}: no type (${b.why ?? 'the spec names no volume type'})`);
      continue;
    }
    let vt = types.find((x) => x.name === b.volumeType);
    if (!vt) {
      vt = (await api.call<{ volume_type: Obj }>('POST', `${base}/types`, { volume_type: { name: b.volumeType, 'os-volume-type-access:is_public': true, description: `Cinder backend ${b.name} (${b.driver})` } })).body.volume_type;
      notes.push(`created type ${b.volumeType}`);
    }
    const specs = (await api.call<{ extra_specs: Record<string, string> }>('GET', `${base}/types/${vt.id}/extra_specs`)).body.extra_specs;
    if (specs.volume_backend_name !== b.name) {
      await api.call('POST', `${base}/types/${vt.id}/extra_specs`, { extra_specs: { volume_backend_name: b.name } });
      notes.push(`${b.volumeType} → ${b.name}`);
    }
    if (!notes.some((n) => n.includes(b.volumeType!))) notes.push(`${b.volumeType} → ${b.name} present`);
  }
  return notes.join('; ');
}

async function dbSync(c: UpContext): Promise<string> {
  const control = openstackContext(c).layout.control;
  const f = `${cinderDir(c.paths, control)}/cinder.conf`;
  return once(c.paths, 'cinder-db', readFileSync(f, 'utf8'), () =>
    inNode(c.lab, control, 'cinder', ['cinder-manage', '--config-file', f, 'db', 'sync']));
}

function volumeServices({ lab, cloud }: ReadyContext): Condition[] {
  if (!backendsNow(lab).due.length) return [];
  return [{
    what: 'a cinder-volume service up for every Cinder backend of the phase',
    probe: async () => {
      const seen = await cinderServices(await cloud());
      const bad = backendsNow(lab).due.flatMap((b) => serviceFindings(lab, b, seen));
      return bad.length ? bad.join('; ') : true;
    },
  }];
}

export const cinder: Component = {
  name: 'cinder',
  after: ['keystone', 'rabbitmq', 'ceph-pools'],
  needed: (lab) => hasService(lab, 'cinder'),
  packages: (lab) => ['cinder-api', 'cinder-scheduler', ...(cephDue(lab) ? ['cinder-volume'] : []), ...(backupDue(lab) ? ['cinder-backup'] : [])],
  render: (ctx) => renderCinder(openstackContext(ctx)),
  bootstrap: (c) => serviceBootstrap(c, 'cinder', ['cinder'], () => dbSync(c)),
  configure: async (c) => {
    await c.step('answers through HAProxy', () => answersViaVip(c, 'cinder'));
    if (cinderBackends(c.lab).length) await c.step('a volume type per backend the lab runs', async () => ensureVolumeTypes(c.lab, await adminApi(c)));
  },
  ready: volumeServices,
};
