/**
 * The embedded lab's guest image (issue 10), built at lab-up time from Debian packages only: the archive's kernel
 * (`apt-get download` of the package linux-image-amd64 points at), an initramfs with busybox (udhcpc, wget),
 * dropbear and the /init beside this file, on a small FAT disk that syslinux boots. One raw disk: Nova boots it
 * like any cloud image (no kernel_id/ramdisk_id pair), with the libvirt driver under TCG or anything else.
 *
 * The guest brings its NIC up by DHCP (honouring classless static routes: the metadata route), takes root's SSH key
 * from its config drive when it has one, else from the metadata service, prints its SSH host key to the serial console between cloud-init's markers (so a
 * client verifies the host key from the console log) and starts dropbear. The built image lives in the lab's state
 * directory (git-ignored); only this recipe is in the repository.
 */
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GUEST_CA_BUNDLE } from '../../../../helpers/openstack/tenant-api.ts';
import { run } from '../../sh.ts';

/** Debian packages the recipe takes its parts from (the kernel package itself is downloaded, not installed). */
export const GUEST_PACKAGES = [
  'busybox-static', 'dropbear-bin', 'openssl', 'curl', 'util-linux', 'syslinux', 'syslinux-common', 'mtools', 'dosfstools',
  'cpio', 'kmod',
] as const;

/**
 * This host's dynamic binaries the guest runs, copied with the shared libraries ldd names: the SSH server, the
 * TLS client that verifies the cloud's endpoints (busybox's ssl_client verifies nothing; Debian 12 packages no
 * smaller verifying client than the openssl CLI), and what a cloud image offers that Tempest's scenarios call in the
 * guest: curl (the metadata service, GET and POST) and util-linux's blkid (`blkid -L config-2 -o device`).
 */
export const GUEST_BINARIES = ['/usr/sbin/dropbear', '/usr/bin/dropbearkey', '/usr/bin/openssl', '/usr/bin/curl', '/usr/sbin/blkid'] as const;

/**
 * The guest's user is root; a cloud image gives its default user passwordless sudo, and Tempest prefixes its guest
 * commands with sudo: here sudo runs the command as it is.
 */
const SUDO = '#!/bin/sh\n# The guest\'s only user is root: sudo runs the command as it is (a cloud image\'s passwordless sudo).\nexec "$@"\n';


/** The Glance image the lab provides for guests (the spec's compute.guestImage names it). */
export const GUEST_IMAGE_NAME = 'stackgate-guest';

const recipeDir = dirname(fileURLToPath(import.meta.url));

/**
 * Kernel modules the guest loads (with their dependencies, resolved by modinfo): virtio NIC, disks and RNG, and the
 * config drive: an ISO 9660 CD-ROM on the IDE (i440fx) or SATA (q35) controller.
 */
const MODULES = ['virtio_pci', 'virtio_net', 'virtio_blk', 'virtio_rng', 'ata_piix', 'ahci', 'sr_mod', 'isofs'];
/** The kernel package's directories the modules above come from. */
const MODULE_DIRS = [
  'drivers/virtio', 'drivers/net', 'net/core', 'drivers/block', 'drivers/scsi', 'drivers/char/hw_random', 'drivers/ata',
  'drivers/cdrom', 'fs/isofs',
];

export interface GuestImage {
  /** The raw disk image Glance gets. */
  readonly disk: string;
  readonly kernel: string;
  readonly initramfs: string;
  readonly kernelPackage: string;
  readonly bytes: number;
  /** sha256 of the disk: the upload is skipped when Glance holds an image with it. */
  readonly sha256: string;
}

export const guestDir = (stateRoot: string) => join(stateRoot, 'guest');

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** The kernel package the archive's linux-image-amd64 depends on now, e.g. linux-image-6.1.0-56-amd64. */
async function kernelPackage(): Promise<string> {
  const out = await run('apt-cache', ['depends', 'linux-image-amd64']);
  const pkg = out.match(/Depends:\s*(linux-image-[0-9][^\s]*)/)?.[1];
  if (!pkg) throw new Error(`apt-cache depends linux-image-amd64 names no kernel package (run apt-get update?):\n${out}`);
  return pkg;
}

/** The .deb of the kernel in the cache dir, downloaded from the archive once. */
async function kernelDeb(cache: string, pkg: string): Promise<string> {
  mkdirSync(cache, { recursive: true });
  const have = () => readdirSync(cache).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
  if (!have()) {
    // _apt cannot write into a root-owned state dir: download as root (the archive's signature is checked by apt).
    await run('apt-get', ['download', '-q', '-o', 'APT::Sandbox::User=root', pkg], { cwd: cache, timeout: 600_000 });
  }
  const f = have();
  if (!f) throw new Error(`apt-get download ${pkg} left no .deb in ${cache}`);
  return join(cache, f);
}

/** Modules in load order: each after the modules it depends on (modinfo -F depends). */
async function moduleOrder(modRoot: string, release: string, wanted: readonly string[]): Promise<{ name: string; path: string }[]> {
  const index = new Map<string, string>();
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ko')) index.set(e.name.slice(0, -3).replaceAll('-', '_'), p);
    }
  };
  walk(join(modRoot, 'lib/modules', release, 'kernel'));
  const order: { name: string; path: string }[] = [];
  const seen = new Set<string>();
  const visit = async (name: string): Promise<void> => {
    const n = name.replaceAll('-', '_');
    if (seen.has(n)) return;
    seen.add(n);
    const path = index.get(n);
    if (!path) return; // built into the kernel
    const deps = (await run('modinfo', ['-F', 'depends', path])).trim();
    for (const d of deps.split(',').filter(Boolean)) await visit(d);
    order.push({ name: n, path });
  };
  for (const m of wanted) await visit(m);
  return order;
}

/** The shared libraries a dynamic binary needs (ldd), with the loader. */
async function libsOf(binary: string): Promise<string[]> {
  const out = await run('ldd', [binary]);
  return [...out.matchAll(/(\/[^\s]+\.so[^\s]*)/g)].map((m) => m[1]!);
}

function put(root: string, from: string, to = from, mode?: number) {
  const dest = join(root, to);
  mkdirSync(dirname(dest), { recursive: true });
  copyFileSync(from, dest);
  chmodSync(dest, mode ?? statSync(from).mode & 0o777);
}

/** The host's files the image copies: busybox, the binaries and every library they load, in a stable order. */
async function hostFiles(): Promise<string[]> {
  const libs = (await Promise.all(GUEST_BINARIES.map(libsOf))).flat();
  return ['/bin/busybox', ...GUEST_BINARIES, ...[...new Set(libs)].sort()];
}

/** The recipe's inputs, hashed: the image is rebuilt when any of them changes (a host file by its content). */
function recipeHash(kernelPkg: string, files: readonly string[]): string {
  const h = createHash('sha256').update(kernelPkg).update(MODULES.join(','));
  for (const f of ['init', 'udhcpc.script']) h.update(readFileSync(join(recipeDir, f)));
  h.update(readFileSync(fileURLToPath(import.meta.url)));
  for (const f of files) h.update(f).update(createHash('sha256').update(readFileSync(f)).digest());
  return h.digest('hex').slice(0, 16);
}

/** Build the guest image unless the one in the state dir came from the same recipe. */
export async function buildGuestImage(stateRoot: string, log: (line: string) => void = () => {}): Promise<GuestImage & { built: boolean }> {
  const dir = guestDir(stateRoot);
  const pkg = await kernelPackage();
  const stamp = join(dir, 'recipe');
  for (const b of ['/bin/busybox', ...GUEST_BINARIES, '/usr/bin/syslinux', '/usr/bin/mcopy', '/usr/sbin/mkfs.vfat', '/usr/bin/cpio']) {
    if (!existsSync(b)) throw new Error(`guest image: ${b} is missing (Debian packages: ${GUEST_PACKAGES.join(' ')})`);
  }
  const want = recipeHash(pkg, await hostFiles());
  const out = { disk: join(dir, 'stackgate-guest.raw'), kernel: join(dir, 'vmlinuz'), initramfs: join(dir, 'initrd.img'), kernelPackage: pkg };
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === want && existsSync(out.disk)) {
    return { ...out, bytes: statSync(out.disk).size, sha256: sha256(out.disk), built: false };
  }
  const deb = await kernelDeb(join(dir, 'cache'), pkg);
  log(`kernel ${basename(deb)}`);
  const work = join(dir, 'work');
  rmSync(work, { recursive: true, force: true });
  const kx = join(work, 'kernel');
  mkdirSync(kx, { recursive: true });
  // Only the kernel and the driver trees the guest loads from (not the whole 400 MB of modules).
  const members = ['./boot/vmlinuz-*', ...MODULE_DIRS.map((d) => `./lib/modules/*/kernel/${d}/*`)];
  await run('sh', ['-c', 'deb=$1 kx=$2; shift 2; dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$kx" --wildcards "$@"', 'x', deb, kx, ...members], { timeout: 300_000 });
  const release = readdirSync(join(kx, 'lib/modules'))[0]!;
  copyFileSync(join(kx, 'boot', `vmlinuz-${release}`), out.kernel);

  // initramfs
  const root = join(work, 'initramfs');
  for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', dirname(GUEST_CA_BUNDLE).slice(1), 'etc', 'proc', 'sys', 'dev', 'run', 'tmp', 'root', 'mnt', 'lib/modules', 'var/log']) mkdirSync(join(root, d), { recursive: true });
  put(root, '/bin/busybox', 'bin/busybox', 0o755);
  const applets = (await run('/bin/busybox', ['--list-full'])).split('\n').filter(Boolean);
  for (const a of applets) {
    const link = join(root, a);
    if (existsSync(link)) continue;
    mkdirSync(dirname(link), { recursive: true });
    await run('ln', ['-s', '/bin/busybox', link]);
  }
  for (const b of GUEST_BINARIES) {
    put(root, b, b.slice(1), 0o755);
    for (const lib of await libsOf(b)) put(root, lib, lib.slice(1), 0o755);
  }
  const mods = await moduleOrder(kx, release, MODULES);
  for (const m of mods) put(root, m.path, `lib/modules/${m.name}.ko`, 0o644);
  // The embedded lab's OVS runs the userspace datapath, which reads guest frames from the tap with AF_PACKET and
  // forwards a checksum the guest left to the NIC as it is (partial, so wrong): the guest computes its own checksums.
  const params: Record<string, string> = { virtio_net: 'csum=0 gso=0' };
  writeFileSync(join(root, 'etc/modules'), `${mods.map((m) => `${m.name}${params[m.name] ? ` ${params[m.name]}` : ''}`).join('\n')}\n`);
  put(root, join(recipeDir, 'init'), 'init', 0o755);
  writeFileSync(join(root, 'usr/bin/sudo'), SUDO, { mode: 0o755 });
  put(root, join(recipeDir, 'udhcpc.script'), 'etc/udhcpc.script', 0o755);
  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  writeFileSync(join(root, 'etc/group'), 'root:x:0:\n');
  writeFileSync(join(root, 'etc/shadow'), 'root:*:19000:0:99999:7:::\n', { mode: 0o600 });
  writeFileSync(join(root, 'etc/shells'), '/bin/sh\n');
  writeFileSync(join(root, 'etc/hostname'), 'stackgate-guest\n');
  writeFileSync(join(root, 'etc/stackgate-guest'), `kernel ${pkg} (${release}); modules ${mods.map((m) => m.name).join(' ')}; recipe ${want}\n`);
  await run('sh', ['-c', 'cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --owner=0:0 --quiet | gzip -9n > "$2"', 'x', root, out.initramfs], { timeout: 120_000 });

  // The disk: FAT without a partition table (SeaBIOS runs syslinux's boot sector at sector 0), kernel + initramfs.
  const need = statSync(out.kernel).size + statSync(out.initramfs).size;
  const kib = Math.ceil((need * 1.15 + 1024 * 1024) / 1024 / 1024) * 1024;
  const tmp = `${out.disk}.tmp`;
  rmSync(tmp, { force: true });
  await run('mkfs.vfat', ['-n', 'SGGUEST', '-C', tmp, String(kib)]);
  await run('syslinux', ['--install', tmp]);
  const cfg = join(work, 'syslinux.cfg');
  writeFileSync(
    cfg,
    [
      'DEFAULT guest',
      'PROMPT 0',
      'TIMEOUT 0',
      'LABEL guest',
      '  KERNEL vmlinuz',
      '  INITRD initrd.img',
      // ttyS0 last: the serial port is /dev/console, which Nova's console log records.
      '  APPEND console=tty0 console=ttyS0,115200n8 quiet loglevel=3 panic=10 random.trust_cpu=on',
      '',
    ].join('\n'),
  );
  await run('mcopy', ['-i', tmp, out.kernel, '::vmlinuz']);
  await run('mcopy', ['-i', tmp, out.initramfs, '::initrd.img']);
  await run('mcopy', ['-i', tmp, cfg, '::syslinux.cfg']);
  await run('mv', [tmp, out.disk]);
  rmSync(work, { recursive: true, force: true });
  writeFileSync(stamp, want);
  return { ...out, bytes: statSync(out.disk).size, sha256: sha256(out.disk), built: true };
}

interface GlanceImage {
  id: string;
  name: string;
  status: string;
  stackgate_sha256?: string;
}

/**
 * The guest image in Glance under `name`, public, from the image built in the state dir: uploaded when no active
 * image of that name carries the built disk's sha256; older images of that name are deleted after the upload.
 */
export async function ensureGuestImage(opts: { glance: string; token: string; ca: string; name: string; image: GuestImage }): Promise<string> {
  const { Agent, request } = await import('undici');
  const agent = new Agent({ connect: { ca: opts.ca } });
  const call = async <T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: Buffer | string, type = 'application/json'): Promise<T> => {
    const r = await request(`${opts.glance}${path}`, { method, dispatcher: agent, headers: { 'x-auth-token': opts.token, 'content-type': type, accept: 'application/json' }, body });
    const text = await r.body.text();
    if (r.statusCode >= 300) throw new Error(`Glance ${method} ${path} → ${r.statusCode}: ${text.slice(0, 300)}`);
    return (text ? JSON.parse(text) : {}) as T;
  };
  try {
    const all = (await call<{ images: GlanceImage[] }>('GET', `/v2/images?name=${encodeURIComponent(opts.name)}`)).images;
    const current = all.find((i) => i.status === 'active' && i.stackgate_sha256 === opts.image.sha256);
    if (current) return `${opts.name} ${current.id} present (${(opts.image.bytes / 1048576).toFixed(1)} MiB, ${opts.image.kernelPackage})`;
    const made = await call<GlanceImage>(
      'POST',
      '/v2/images',
      JSON.stringify({
        name: opts.name, disk_format: 'raw', container_format: 'bare', visibility: 'public', min_disk: 1, min_ram: 128,
        hw_disk_bus: 'virtio', hw_vif_model: 'virtio', os_type: 'linux', stackgate_sha256: opts.image.sha256, stackgate_kernel: opts.image.kernelPackage,
      }),
    );
    await call('PUT', `/v2/images/${made.id}/file`, readFileSync(opts.image.disk), 'application/octet-stream');
    const deadline = Date.now() + 120_000;
    for (;;) {
      const img = await call<GlanceImage>('GET', `/v2/images/${made.id}`);
      if (img.status === 'active') break;
      if (['killed', 'deleted'].includes(img.status) || Date.now() > deadline) throw new Error(`guest image ${made.id}: ${img.status} after the upload`);
      await new Promise((r) => setTimeout(r, 500));
    }
    for (const old of all) await call('DELETE', `/v2/images/${old.id}`).catch(() => undefined);
    return `uploaded ${opts.name} ${made.id} (${(opts.image.bytes / 1048576).toFixed(1)} MiB, ${opts.image.kernelPackage})${all.length ? `, replaced ${all.length}` : ''}`;
  } finally {
    await agent.close();
  }
}

