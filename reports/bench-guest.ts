// `npm run bench:guest [-- --boots N]`: boot-to-SSH of real guests on the current lab (STACKGATE_LAB): N times a
// fresh tenant (network, router, floating IP, key) boots the spec's guest image; the seconds from the create call
// to ACTIVE and to the first SSH command answered over the floating IP (host key checked against the console).
// Every resource goes through a ledger and is removed after each boot. Into reports/bench/guest-boot.{md,json}.
import { Ledger, newRunId } from '../helpers/gate/ledger.ts';
import { loadLab } from '../helpers/lab/load.ts';
import { machine, writeBench } from './bench-out.ts';
import { Cloud } from '../helpers/openstack/cloud.ts';
import { Tenant } from '../helpers/openstack/tenant.ts';

const i = process.argv.indexOf('--boots');
const boots = Number(i >= 0 ? process.argv[i + 1] : 5);
const lab = loadLab();
const cloud = await Cloud.connect(lab);
const samples: { boot: number; activeS: number; sshS: number; hypervisor: string }[] = [];
try {
  for (let n = 1; n <= boots; n++) {
    const ledger = new Ledger(lab.name, { run: newRunId(), pid: process.pid });
    const t = new Tenant(lab, cloud, ledger);
    try {
      // The tenant's network, router, port and image exist before the clock starts: only the boot is timed.
      await Promise.all([t.bootImage(), t.flavor(), t.keypair(), t.port(), t.router(), t.floatingIp()]);
      const t0 = performance.now();
      const { server } = await t.server();
      const activeS = (performance.now() - t0) / 1000;
      await t.guestRuns('cat /proc/uptime', 300_000, undefined, true);
      const sshS = (performance.now() - t0) / 1000;
      samples.push({ boot: n, activeS, sshS, hypervisor: String(server['OS-EXT-SRV-ATTR:host'] ?? '') });
      process.stdout.write(`boot ${n}/${boots}: ACTIVE ${activeS.toFixed(1)} s, SSH ${sshS.toFixed(1)} s\n`);
      const steps = (await t.consoleLog(String(server.id), undefined)).split('\n').filter((l) => l.includes('stackgate-guest:'));
      process.stdout.write(steps.map((l) => `  ${l.trim()}\n`).join(''));
    } finally {
      const left = await ledger.cleanup();
      if (left.length) process.stdout.write(`boot ${n}: left ${left.join(', ')}\n`);
    }
  }
} finally {
  await cloud.close();
}

const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const host = machine();
const md = [
  `# Guest boot to SSH — lab \`${lab.name}\``,
  '',
  `${boots} boots of image ${lab.spec.compute?.guestImage?.name ?? '(spec guest image)'} (virt type ${lab.spec.compute?.virtType ?? 'kvm'}), each in a fresh tenant; seconds from the create call. Machine: ${host}. Date: ${new Date().toISOString().slice(0, 10)}.`,
  '',
  '| boot | ACTIVE (s) | SSH answered (s) | host |',
  '|---|---|---|---|',
  ...samples.map((s) => `| ${s.boot} | ${s.activeS.toFixed(1)} | ${s.sshS.toFixed(1)} | ${s.hypervisor} |`),
  '',
  `Median: ACTIVE ${med(samples.map((s) => s.activeS)).toFixed(1)} s, boot-to-SSH ${med(samples.map((s) => s.sshS)).toFixed(1)} s.`,
  '',
].join('\n');
writeBench('guest-boot', md, { lab: lab.name, boots, machine: host, samples });
