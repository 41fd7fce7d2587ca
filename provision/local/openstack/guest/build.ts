/**
 * The embedded lab's guest image (issue 10), built at lab-up time from Debian packages only: the archive's kernel
 * (`apt-get download` of the package linux-image-amd64 points at), an initramfs with busybox (udhcpc, wget),
 * dropbear and the /init beside this file, on a small FAT disk that syslinux boots, as any cloud image's disk. The
 * disk image also names the same kernel, uncompressed, and the same initramfs as its kernel_id and ramdisk_id (an
 * AMI-style image): Nova boots them directly, which spares every boot under emulation the seconds the kernel spends
 * decompressing itself; whatever boots the disk without those properties boots it by syslinux.
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
  'cpio', 'kmod', 'xz-utils',
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
  /** What Nova boots directly (the disk image's kernel_id and ramdisk_id), when the kernel has a PVH entry. */
  readonly direct?: { readonly kernel: string; readonly ramdisk: string; readonly cmdline: string };
  readonly kernelPackage: string;
  readonly bytes: number;
  /** sha256 of the disk and of what Nova boots directly: the upload is skipped when Glance holds an image with it. */
  readonly sha256: string;
}

/**
 * The kernel command line, on the disk's syslinux and as the image's os_command_line. ttyS0 last: the serial port is
 * /dev/console, which Nova's console log records. no_timer_check as Nova puts it on a qemu guest's direct boot.
 */
const CMDLINE = 'console=tty0 console=ttyS0,115200n8 quiet loglevel=3 panic=10 random.trust_cpu=on no_timer_check';

/** Whether an ELF64 kernel carries a PVH entry point (the note Xen/XEN_ELFNOTE_PHYS32_ENTRY) that QEMU boots. */
export function hasPvhEntry(elf: Buffer): boolean {
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2 || elf[5] !== 1) return false;
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  for (let i = 0; i < elf.readUInt16LE(0x38); i++) {
    const ph = phoff + i * phentsize;
    if (ph + 40 > elf.length || elf.readUInt32LE(ph) !== 4) continue; // PT_NOTE
    const start = Number(elf.readBigUInt64LE(ph + 8));
    const end = Math.min(elf.length, start + Number(elf.readBigUInt64LE(ph + 32)));
    for (let n = start; n + 12 <= end;) {
      const [namesz, descsz, type] = [elf.readUInt32LE(n), elf.readUInt32LE(n + 4), elf.readUInt32LE(n + 8)];
      const name = elf.subarray(n + 12, n + 12 + namesz).toString('latin1');
      if (name === 'Xen\0' && type === 18) return true;
      n += 12 + Math.ceil(namesz / 4) * 4 + Math.ceil(descsz / 4) * 4;
    }
  }
  return false;
}

/**
 * The uncompressed kernel (vmlinux) inside a bzImage whose payload is XZ, as Debian's amd64 kernels are; undefined
 * when none of the XZ streams in it decompresses to an ELF file with a PVH entry.
 */
async function pvhKernel(bzImage: string, out: string): Promise<string | undefined> {
  const image = readFileSync(bzImage);
  const magic = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);
  for (let at = image.indexOf(magic); at >= 0; at = image.indexOf(magic, at + 1)) {
    // --single-stream: the bzImage goes on after the payload.
    const cmd = 'tail -c +"$2" "$1" | xz -dc --single-stream > "$3"';
    const ok = await run('sh', ['-c', cmd, 'x', bzImage, String(at + 1), out], { timeout: 120_000 }).then(() => true, () => false);
    if (ok && hasPvhEntry(readFileSync(out))) return out;
  }
  rmSync(out, { force: true });
  return undefined;
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
  // The same initramfs, compressed: uncompressed it would not unpack in the 128 MB the image asks for.
  const direct = { kernel: join(dir, 'vmlinux'), ramdisk: out.initramfs, cmdline: CMDLINE };
  const done = (built: boolean): GuestImage & { built: boolean } => {
    const boots = existsSync(direct.kernel) ? direct : undefined;
    const parts = [out.disk, ...(boots ? [boots.kernel, boots.ramdisk] : [])].map(sha256);
    const id = parts.length === 1
      ? parts[0]!
      : createHash('sha256').update([...parts, CMDLINE].join('\n')).digest('hex');
    return { ...out, ...(boots ? { direct: boots } : {}), bytes: statSync(out.disk).size, sha256: id, built };
  };
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === want && existsSync(out.disk)) return done(false);
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
  // Under emulation the bzImage's own XZ decompression takes seconds of every boot (about 3.5 of the 6 s from QEMU's
  // start to /init on an idle host): Nova boots the uncompressed kernel directly, through its PVH entry.
  const pvh = await pvhKernel(out.kernel, direct.kernel);
  log(pvh ? `direct boot: ${basename(pvh)} (PVH entry)` : 'direct boot: no PVH kernel found, the disk boots by syslinux');

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
      `  APPEND ${CMDLINE}`,
      '',
    ].join('\n'),
  );
  await run('mcopy', ['-i', tmp, out.kernel, '::vmlinuz']);
  await run('mcopy', ['-i', tmp, out.initramfs, '::initrd.img']);
  await run('mcopy', ['-i', tmp, cfg, '::syslinux.cfg']);
  await run('mv', [tmp, out.disk]);
  rmSync(work, { recursive: true, force: true });
  writeFileSync(stamp, want);
  return done(true);
}

interface GlanceImage {
  id: string;
  name: string;
  status: string;
  stackgate_sha256?: string;
}

/** The names of the kernel and ramdisk images a guest image of `name` boots directly. */
const directImageNames = (name: string) => ({ kernel: `${name}-kernel`, ramdisk: `${name}-ramdisk` });

/**
 * The guest image in Glance under `name`, public, from the image built in the state dir: uploaded when no active
 * image of that name carries the built image's sha256; older images of that name are deleted after the upload. A
 * kernel Nova boots directly goes first, with its ramdisk, as community images (any project may boot them; no one's
 * image list shows them) that the disk image names as kernel_id and ramdisk_id.
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
  const named = async (name: string) =>
    (await call<{ images: GlanceImage[] }>('GET', `/v2/images?name=${encodeURIComponent(name)}&visibility=all`)).images;
  const upload = async (props: Record<string, unknown>, file: string): Promise<GlanceImage> => {
    const made = await call<GlanceImage>('POST', '/v2/images', JSON.stringify(props));
    await call('PUT', `/v2/images/${made.id}/file`, readFileSync(file), 'application/octet-stream');
    const deadline = Date.now() + 120_000;
    for (;;) {
      const img = await call<GlanceImage>('GET', `/v2/images/${made.id}`);
      if (img.status === 'active') return img;
      if (['killed', 'deleted'].includes(img.status) || Date.now() > deadline) throw new Error(`image ${props.name} ${made.id}: ${img.status} after the upload`);
      await new Promise((r) => setTimeout(r, 500));
    }
  };
  /** The active image of that name with the file's sha256, uploaded when there is none; the others of that name. */
  const ensure = async (props: Record<string, unknown> & { name: string }, file: string, sum: string) => {
    const all = await named(props.name);
    const found = all.find((i) => i.status === 'active' && i.stackgate_sha256 === sum);
    const image = found ?? (await upload({ ...props, stackgate_sha256: sum }, file));
    return { image, others: all.filter((i) => i.id !== image.id) };
  };
  const size = `${(opts.image.bytes / 1048576).toFixed(1)} MiB, ${opts.image.kernelPackage}`;
  try {
    const current = (await named(opts.name)).find((i) => i.status === 'active' && i.stackgate_sha256 === opts.image.sha256);
    if (current) return `${opts.name} ${current.id} present (${size}${opts.image.direct ? ', boots its kernel directly' : ''})`;
    const boots: Record<string, string> = {};
    const stale: GlanceImage[] = [];
    if (opts.image.direct) {
      const names = directImageNames(opts.name);
      // disk_format raw: this Nova (26.2.2-1~deb12u4) turns aki/ari down in fetch_to_raw (its format inspection
      // expects them to be aki, qemu-img calls them raw); nothing else about a kernel image depends on it.
      const part = {
        disk_format: 'raw', container_format: 'bare', visibility: 'community', stackgate_kernel: opts.image.kernelPackage,
      };
      const { kernel, ramdisk, cmdline } = opts.image.direct;
      const [k, r] = await Promise.all([
        ensure({ ...part, name: names.kernel }, kernel, sha256(kernel)),
        ensure({ ...part, name: names.ramdisk }, ramdisk, sha256(ramdisk)),
      ]);
      Object.assign(boots, { kernel_id: k.image.id, ramdisk_id: r.image.id, os_command_line: cmdline });
      stale.push(...k.others, ...r.others);
    }
    const disk = await ensure({
      name: opts.name, disk_format: 'raw', container_format: 'bare', visibility: 'public', min_disk: 1, min_ram: 128,
      hw_disk_bus: 'virtio', hw_vif_model: 'virtio', os_type: 'linux', stackgate_kernel: opts.image.kernelPackage, ...boots,
    }, opts.image.disk, opts.image.sha256);
    // The disk images first: a kernel image goes only when no image of this name boots it any more.
    for (const old of [...disk.others, ...stale]) await call('DELETE', `/v2/images/${old.id}`).catch(() => undefined);
    const replaced = disk.others.length ? `, replaced ${disk.others.length}` : '';
    return `uploaded ${opts.name} ${disk.image.id} (${size}${opts.image.direct ? ', boots its kernel directly' : ''})${replaced}`;
  } finally {
    await agent.close();
  }
}
