/**
 * The embedded lab's Ceph part: rendering from the spec (pure), and live — a volume of the Ceph backend's type made
 * with the real `openstack` CLI inside the control node becomes available and shows up as volumes/volume-<id> in
 * `rbd ls` (as client.cinder, with the lab's ceph.conf and keyring), and is gone after delete. Live only as root
 * with the lab's OpenStack part up and Ceph due.
 */
import { execa } from 'execa';
import { afterAll, describe, expect, test } from 'vitest';
import { loadLab } from '../../helpers/lab/load.ts';
import { clientCaps, cephConf, cephDue, cephLayout, clientKeyring, publicAddress, renderCephConf } from './ceph/common.ts';
import { labPaths, netnsName } from './index.ts';
import { backupDue, cinderBackends } from './openstack/cinder.ts';
import { cephConsumer, layout } from './openstack/common.ts';
import { cloudName, cloudsFile } from './openstack/keystone.ts';
import { upComplete } from './orchestrator.ts';
import { renderSupervisor, supervisordPid } from './supervisor.ts';
import { renderForTest, TEST_FSID, TEST_OPENSTACK_SECRETS as fake } from './testing.ts';

const lab = loadLab(process.env.STACKGATE_LAB || 'embedded');
const paths = labPaths(lab.name);
const live = process.getuid?.() === 0 && lab.provider === 'local' && cephDue(lab) && supervisordPid(paths) !== undefined && upComplete(paths);
const P = 'sg-selftest';

describe('Ceph part rendering (pure)', () => {
  const r = renderForTest(lab);
  const tmp = r.paths;
  const os = r.all.filter((d) => !d.service.startsWith('ceph-'));

  test('Ceph is due in the embedded spec (storage phase reaches Ceph\'s phase), deployed from packages', () => {
    expect(lab.storagePhase).toBeGreaterThanOrEqual(lab.ceph!.phase);
    expect(cephDue(lab)).toBe(true);
  });

  test('MONs, MGRs and one OSD per spec entry on the spec\'s nodes, all started by the provider', () => {
    const d = r.all.filter((x) => x.service.startsWith('ceph-'));
    const on = (re: RegExp) => d.filter((x) => re.test(x.service)).map((x) => x.node);
    expect(on(/^ceph-mon$/)).toEqual(lab.ceph!.mons);
    expect(on(/^ceph-mgr$/)).toEqual(lab.ceph!.mgrs ?? lab.ceph!.mons);
    expect(on(/^ceph-osd-\d+$/)).toEqual(lab.ceph!.osds.map((o) => o.node));
    // osd.N is the N-th OSD of the spec: drills and checks can name it.
    expect(d.filter((x) => x.service.startsWith('ceph-osd-')).map((x) => x.service)).toEqual(lab.ceph!.osds.map((_, i) => `ceph-osd-${i}`));
    expect(d.every((x) => x.manual)).toBe(true);
    expect(renderSupervisor(lab, tmp, d)).not.toMatch(/autostart=true/);
  });

  test('ceph.conf: public network = the storage network, MONs on their storage addresses, pool size from the spec', () => {
    const conf = renderCephConf(lab, tmp, TEST_FSID);
    const storage = lab.networkFor('storage')!;
    expect(conf).toContain(`public_network = ${storage.cidr.text}`);
    for (const n of cephLayout(lab).mons) expect(conf).toContain(`[v2:${n.addresses[storage.name]}:3300,v1:${n.addresses[storage.name]}:6789]`);
    for (const o of cephLayout(lab).osds) expect(conf).toContain(`public_addr = ${publicAddress(lab, o.node)}`);
    expect(conf).toContain(`osd_pool_default_size = ${lab.ceph!.poolDefaultSize}`);
  });

  test("client caps are Kolla's: profile rbd on the client's pools, read-only on a pool another client owns", () => {
    expect(clientCaps(lab, 'client.cinder')).toEqual({
      mon: 'profile rbd',
      osd: 'profile rbd pool=volumes, profile rbd pool=vms, profile rbd-read-only pool=images',
      mgr: 'profile rbd pool=volumes, profile rbd pool=vms',
    });
    expect(clientCaps(lab, 'client.glance').osd).toBe('profile rbd pool=images');
    expect(clientCaps(lab, 'client.cinder-backup').osd).toBe('profile rbd pool=backups');
  });

  test('cinder-volume on the backend hosts with the RBD backend; the LVM backend is not run (lab lacks lvm); Glance on Ceph', () => {
    const backends = cinderBackends(lab);
    expect(backends.find((b) => b.driver === 'lvm')).toMatchObject({ runs: false, why: expect.stringContaining('lacks lvm') });
    const rbd = lab.cinderBackends.find((b) => b.driver === 'ceph')!;
    const vol = os.filter((d) => d.service === 'cinder-volume');
    expect(vol.map((d) => d.node)).toEqual(rbd.hosts);
    const conf = vol[0]!.files[0]!.content;
    expect(conf).toContain(`enabled_backends = ${rbd.name}\n`);
    expect(conf).toContain(`rbd_pool = ${rbd.pool}`);
    expect(conf).toContain(`rbd_user = ${rbd.user}`);
    expect(conf).toContain(`rbd_ceph_conf = ${cephConf(tmp)}`);
    expect(os.some((d) => d.service === 'cinder-backup')).toBe(backupDue(lab));
    const glance = os.find((d) => d.service === 'glance-api')!.files[0]!.content;
    expect(glance).toContain(`rbd_store_pool = ${cephConsumer(lab, 'glance')!.pool}`);
    expect(glance).toContain('default_backend = rbd');
  });

  test('Cinder and the compute nodes\' Nova name the same libvirt secret for the Cinder client: QEMU attaches RBD volumes with it', () => {
    const rbd = lab.cinderBackends.find((b) => b.driver === 'ceph')!;
    expect(os.find((d) => d.service === 'cinder-volume')!.files[0]!.content).toContain(`rbd_secret_uuid = ${fake.rbdSecretUuid}`);
    const compute = os.find((d) => d.service === 'nova-compute')!.files.find((f) => f.path.endsWith('nova.conf'))!.content;
    expect(compute).toMatch(new RegExp(`\\[libvirt\\][^[]*rbd_user = ${rbd.user}\\n[^[]*rbd_secret_uuid = ${fake.rbdSecretUuid}`));
    expect(compute).toMatch(/\[cinder\][^[]*catalog_info = volumev3::internalURL/);
  });
});

const env = { PATH: '/usr/bin:/usr/sbin:/bin:/sbin', OS_CLIENT_CONFIG_FILE: cloudsFile(lab, paths), OS_CLOUD: cloudName(lab) };

async function os<T = unknown>(...args: string[]): Promise<T> {
  const { stdout } = await execa('ip', ['netns', 'exec', netnsName(lab, layout(lab).control), 'openstack', ...args, '-f', 'json'], { env, extendEnv: false, timeout: 180_000 });
  return (stdout.trim() ? JSON.parse(stdout) : {}) as T;
}

async function act(...args: string[]): Promise<void> {
  await execa('ip', ['netns', 'exec', netnsName(lab, layout(lab).control), 'openstack', ...args], { env, extendEnv: false, timeout: 180_000 });
}

/** `rbd ls <pool>` as the backend's Ceph user, with the lab's ceph.conf and that user's keyring, on the backend host. */
async function rbdLs(pool: string, user: string, node: string): Promise<string[]> {
  const { stdout } = await execa('ip', ['netns', 'exec', netnsName(lab, node), 'rbd', '-c', cephConf(paths), '--id', user, '--keyring', clientKeyring(paths, `client.${user}`), 'ls', pool], { timeout: 60_000 });
  return stdout.split('\n').filter(Boolean);
}

describe.skipIf(!live)(`lab ${lab.name}: Cinder on Ceph (live, openstack CLI and rbd)`, () => {
  const made: string[] = [];
  afterAll(async () => {
    for (const id of made) await act('volume', 'delete', id).catch(() => undefined);
  }, 120_000);

  test('a volume of the Ceph type becomes available, is volumes/volume-<id> in rbd, and is gone after delete', async () => {
    const backend = cinderBackends(lab).find((b) => b.driver === 'ceph' && b.runs)!;
    const spec = lab.cinderBackends.find((b) => b.name === backend.name)!;
    const started = performance.now();
    const v = await os<{ id: string }>('volume', 'create', '--type', backend.volumeType!, '--size', '1', `${P}-volume`);
    made.push(v.id);
    let status = '';
    for (let i = 0; i < 120 && status !== 'available' && status !== 'error'; i++) {
      status = (await os<{ status: string }>('volume', 'show', v.id)).status;
      if (status !== 'available') await new Promise((r) => setTimeout(r, 1000));
    }
    expect(status, `volume ${v.id} of type ${backend.volumeType}`).toBe('available');
    const shown = await os<{ 'os-vol-host-attr:host': string; volume_type: string }>('volume', 'show', v.id);
    expect(shown['os-vol-host-attr:host']).toBe(`${lab.node(backend.hosts[0]!).hostname}@${backend.name}#${backend.name}`);
    expect(await rbdLs(spec.pool!, spec.user!, backend.hosts[0]!)).toContain(`volume-${v.id}`);
    console.log(`volume ${v.id} available in ${((performance.now() - started) / 1000).toFixed(1)} s`);

    await act('volume', 'delete', v.id);
    let gone = false;
    for (let i = 0; i < 60 && !gone; i++) {
      gone = !(await os<{ ID: string }[]>('volume', 'list')).some((x) => x.ID === v.id);
      if (!gone) await new Promise((r) => setTimeout(r, 1000));
    }
    expect(gone, `volume ${v.id} still listed after delete`).toBe(true);
    made.splice(made.indexOf(v.id), 1);
    expect(await rbdLs(spec.pool!, spec.user!, backend.hosts[0]!)).not.toContain(`volume-${v.id}`);
  }, 300_000);
});
