/**
 * Faults only a reboot shows: the lab runs fine until a node power-cycles. Each drill runs the persistence layer
 * rebooting only the node its fault is on (STACKGATE_PERSIST_NODES), so it costs one node's reboot, not the lab's.
 */
import type { Lab } from '../../../helpers/lab/model.ts';
import { persistence } from '../../../helpers/lab/defaults.ts';
import { layout } from '../openstack/common.ts';
import { glanceDir } from '../openstack/glance.ts';
import { keystoneDir } from '../openstack/keystone.ts';
import { waitUntil } from '../sh.ts';
import { programStatus } from '../supervisor.ts';
import { novaComputeDir } from '../openstack/compute.ts';
import { labPaths } from '../paths.ts';
import { makeVolatile } from '../reboot.ts';
import { editDrill, notEnabledAtBoot, supervisorctl, withCloud, type Drill } from './drill.ts';
import { promProgram, targetsUp } from './monitoring.ts';
import { healthy, lastOsd, restartNovaCompute } from './storage.ts';

/**
 * The last node's node exporter left out of what starts at boot: the lab runs on until that node reboots, then the
 * exporter stays down. Only the reboot shows it (compute.restart-policy reads the same list beforehand). An exporter,
 * not a cloud service: the layer's own cleanup (a volume's detach and delete) must still work with the fault in.
 */
function serviceOffAfterReboot(lab: Lab): Drill | undefined {
  if (!persistence(lab).required || !lab.spec.monitoring?.prometheus) return undefined;
  const node = lab.nodes.at(-1)!.name;
  const program = `${node}-node-exporter`;
  const name = 'persist-service-not-enabled-at-boot';
  const boot = notEnabledAtBoot(name, program);
  return {
    name,
    description: `${program} not enabled at boot, then ${node} hard-rebooted: the service stays down`,
    decisions: ['ARC-04'],
    checks: ['persist.recovery'],
    object: program,
    layers: ['persistence'],
    env: { STACKGATE_PERSIST_NODES: node },
    ...boot,
    // Started again is not yet scraped again: the next run (the drills' last, healthy one) reads Prometheus.
    revert: async (lab) => {
      await boot.revert(lab);
      await targetsUp(lab);
    },
  };
}

/**
 * Prometheus keeps its samples under the node's run directory, which a reboot clears: it scrapes and answers as
 * before until its node reboots, and then its history is gone.
 */
function historyOnWipedPath(lab: Lab): Drill | undefined {
  if (!persistence(lab).required || !lab.spec.monitoring?.prometheus) return undefined;
  const program = promProgram(lab);
  const node = program.slice(0, -'-prometheus'.length);
  const paths = labPaths(lab.name);
  // The node's /tmp: a reboot empties it (and makes it again, empty), as a tmpfs /tmp.
  const wiped = `${paths.volatile(node)}/prometheus-data`;
  return editDrill(
    {
      name: 'persist-history-on-wiped-path',
      description: `Prometheus on ${node} stores its samples in ${wiped}, which a reboot clears; then ${node} is hard-rebooted`,
      decisions: ['ARC-04'],
      checks: ['persist.prometheus-history'],
      object: `after ${node} rebooted (hard): up at`,
      layers: ['persistence'],
      env: { STACKGATE_PERSIST_NODES: node },
      slow: 'a reboot of the Prometheus node and 35 s of samples: about 290 s',
    },
    () => [{
      file: paths.supervisorConf,
      edit: (text) => text.replace(/(--storage\.tsdb\.path=)\S+/, `$1${wiped}`),
    }],
    async (lab) => {
      makeVolatile(paths, node);
      await supervisorctl(lab, 'update');
      // Samples in the store the layer reads back: every target scraped, and longer than the layer looks back.
      await targetsUp(lab);
      await new Promise((r) => setTimeout(r, 35_000));
    },
  );
}

/**
 * keepalived on the loadbalancer left out of what starts at boot: the VIPs stay where they are until that node
 * reboots, then nothing brings them back, and every API behind them goes with them.
 */
function keepalivedOffAfterReboot(lab: Lab): Drill | undefined {
  if (!persistence(lab).required || lab.vips.length === 0) return undefined;
  const node = lab.nodesWithRole('loadbalancer')[0]?.name;
  if (!node) return undefined;
  const name = 'persist-keepalived-not-enabled-at-boot';
  const program = `${node}-keepalived`;
  return {
    name,
    description: `${program} not enabled at boot, then ${node} hard-rebooted: no VIP comes back`,
    decisions: ['ARC-04'],
    checks: ['persist.recovery', 'persist.vip-holder', 'persist.server-back', 'persist.volume-data', 'persist.image-data',
      'persist.token', 'persist.prometheus-history'],
    object: `after ${node} rebooted (hard)`,
    layers: ['persistence'],
    env: { STACKGATE_PERSIST_NODES: node },
    slow: 'a reboot of the loadbalancer, then every bound of what stays unreachable',
    ...notEnabledAtBoot(name, program),
  };
}

/**
 * nova-compute no longer resumes its guests when its host boots: every service comes back, the server stays shut
 * off. Read at nova-compute's next start, which is the reboot.
 */
function guestsNotResumed(lab: Lab): Drill | undefined {
  if (!persistence(lab).required || lab.lacks('guest-dataplane') || !lab.spec.compute?.guestImage) return undefined;
  const compute = layout(lab).compute[0];
  if (!compute) return undefined;
  return editDrill(
    {
      name: 'persist-guests-not-resumed',
      description: `nova-compute on ${compute.name} with resume_guests_state_on_host_boot = false, then ${compute.name} ` +
        'hard-rebooted: the server it ran stays shut off',
      decisions: ['ARC-04'],
      checks: ['persist.server-back', 'persist.volume-data'],
      object: `after ${compute.name} rebooted (hard)`,
      layers: ['persistence'],
      env: { STACKGATE_PERSIST_NODES: compute.name },
      slow: 'a reboot of the compute node, then the guest\'s SSH bound (240 s)',
    },
    (lab) => [{
      file: `${novaComputeDir(lab, labPaths(lab.name), compute)}/nova.conf`,
      edit: (text) => text.replace(/^resume_guests_state_on_host_boot = true$/m, 'resume_guests_state_on_host_boot = false'),
    }],
    restartNovaCompute,
  );
}

/** Keystone answers a password authentication again (the drills restart it). */
const keystoneAnswers = (lab: Lab) => waitUntil('Keystone issuing tokens again', 120_000, () =>
  withCloud(lab, async () => true as const).catch((e: Error) => e.message));

/**
 * Glance keeps new images on file under the control node's /tmp, which a reboot clears: uploads and downloads work
 * until the node reboots, then the image is listed and its data is gone.
 */
function imagesOnWipedPath(lab: Lab): Drill | undefined {
  if (!persistence(lab).required || !lab.spec.services?.glance) return undefined;
  const control = layout(lab).control;
  const paths = labPaths(lab.name);
  const wiped = `${paths.volatile(control.name)}/glance-images`;
  return editDrill(
    {
      name: 'persist-images-on-wiped-path',
      description: `Glance stores new images on file in ${wiped}, which a reboot clears; then ${control.name} is hard-rebooted`,
      decisions: ['ARC-04'],
      checks: ['persist.image-data'],
      object: `after ${control.name} rebooted (hard)`,
      layers: ['persistence'],
      env: { STACKGATE_PERSIST_NODES: control.name },
      slow: 'a reboot of the control node: about 150 s',
    },
    () => [{
      file: `${glanceDir(paths, control)}/glance-api.conf`,
      edit: (text) => text
        .replace(/^default_backend = \S+$/m, 'default_backend = fs')
        .replace(/^(\[fs\]\nfilesystem_store_datadir = )\S+$/m, `$1${wiped}`),
    }],
    async (lab) => {
      makeVolatile(paths, control.name);
      await supervisorctl(lab, 'restart', `${control.name}-glance-api`);
      await waitUntil('Glance answering again', 120_000, () =>
        withCloud(lab, async (c) => (await c.get('image', '/v2/images?limit=1'), true as const)).catch((e: Error) => e.message));
    },
  );
}

/**
 * Keystone's start rotates its Fernet keys twice (max_active_keys 3), as a boot hook that "refreshes" keys would: the
 * key a token was issued with is gone after the node's next boot, so every token issued before is refused.
 */
function fernetKeysRotatedAtBoot(lab: Lab): Drill | undefined {
  if (!persistence(lab).required) return undefined;
  const control = layout(lab).control;
  const paths = labPaths(lab.name);
  const program = `${control.name}-keystone`;
  const conf = `${keystoneDir(paths, control)}/keystone.conf`;
  const rotate = `keystone-manage --config-file ${conf} fernet_rotate --keystone-user keystone --keystone-group keystone`;
  return editDrill(
    {
      name: 'persist-fernet-keys-rotated-at-boot',
      description: `${program} rotates its Fernet keys twice each time it starts; then ${control.name} is hard-rebooted`,
      decisions: ['ARC-04'],
      checks: ['persist.token'],
      object: 'for a token it issued before the reboots',
      layers: ['persistence'],
      env: { STACKGATE_PERSIST_NODES: control.name },
      slow: 'a reboot of the control node: about 150 s',
    },
    () => [{
      file: paths.supervisorConf,
      edit: (text) => text.replace(
        new RegExp(`(\\[program:${program}\\]\\ncommand=[^\\n]*?/bin/sh -c 'hostname \\S+ && )`),
        `$1${rotate} && ${rotate} && `),
    }],
    async (lab) => {
      // update stops a changed program and adds it back as configured: not started (the lab starts its programs).
      await supervisorctl(lab, 'update');
      const state = (await programStatus(paths)).find((p) => p.program === program)?.state;
      if (state !== 'RUNNING' && state !== 'STARTING') await supervisorctl(lab, 'start', program);
      await keystoneAnswers(lab);
    },
  );
}

/**
 * The last OSD left out of what starts at boot: Ceph stays HEALTH_OK until that OSD's node reboots, then it is down
 * and its placement groups stay degraded (the other replica still serves them: nothing above Ceph notices).
 */
function osdOffAfterReboot(lab: Lab): Drill | undefined {
  if (!persistence(lab).required || !lab.ceph) return undefined;
  const osd = lastOsd(lab);
  const name = 'persist-osd-not-enabled-at-boot';
  const boot = notEnabledAtBoot(name, osd.program);
  return {
    name,
    description: `${osd.program} not enabled at boot, then ${osd.node} hard-rebooted: osd.${osd.id} stays down`,
    decisions: ['ARC-04'],
    checks: ['persist.recovery', 'persist.ceph-data'],
    object: `after ${osd.node} rebooted (hard)`,
    layers: ['persistence'],
    env: { STACKGATE_PERSIST_NODES: osd.node },
    slow: 'a reboot of an OSD node, then the layer\'s wait for Ceph to settle',
    ...boot,
    revert: async (lab) => {
      await boot.revert(lab);
      await healthy(lab);
    },
  };
}

export const persistenceDrillsFor = (lab: Lab): Drill[] =>
  [
    serviceOffAfterReboot(lab), historyOnWipedPath(lab), keepalivedOffAfterReboot(lab), guestsNotResumed(lab),
    imagesOnWipedPath(lab), fernetKeysRotatedAtBoot(lab), osdOffAfterReboot(lab),
  ].filter((d) => d !== undefined);
