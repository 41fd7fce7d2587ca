import { expect } from 'vitest';
import { check } from '../../helpers/gate/check.ts';
import { bootFindings, bootKind } from '../../helpers/node/boot.ts';
import { containerFindings, nodeOs, nodeSize } from '../../helpers/node/host.ts';
import { jujuStatusCommand } from '../../helpers/node/deployer.ts';
import { jujuStatusFindings, parseJujuStatus } from '../../helpers/node/juju.ts';

check('compute.node-os', "Every node runs the distribution and release the spec names", async ({ lab, node, notApplicable }) => {
  const want = lab.deployer.baseDistro;
  if (!want) notApplicable(`lab ${lab.name}: the spec names no deployer.baseDistro`);
  const seen = await Promise.all(lab.nodes.map(async (n) => ({ node: n.name, ...(await nodeOs(node(n.name))) })));
  const wrong = seen.filter((s) => s.id !== want || (lab.deployer.baseRelease && s.versionId !== lab.deployer.baseRelease));
  expect(wrong.map((s) => `${s.node} runs ${s.pretty} (${s.id} ${s.versionId})`), `nodes not on ${want} ${lab.deployer.baseRelease ?? ''}`.trim()).toEqual([]);
});

check('compute.node-resources', 'Every node has the vCPUs, memory and disks the spec sizes it with', async ({ lab, node, notApplicable }) => {
  const sized = lab.nodes.filter((n) => lab.spec.nodes[n.name]?.size);
  if (sized.length === 0) notApplicable(`lab ${lab.name}: the spec sizes no node (its nodes share the host)`);
  const findings = (await Promise.all(sized.map(async (n) => (await nodeSize(node(n.name), n)).map((f) => `${n.name}: ${f}`)))).flat();
  expect(findings, 'nodes sized other than the spec says').toEqual([]);
});

check('compute.restart-policy', 'Every service of every node comes back by itself when the node boots', async ({ lab, node, notApplicable }) => {
  if (lab.spec.persistence === false) notApplicable(`lab ${lab.name}: the spec says persistence: false`);
  const kind = bootKind(lab);
  if (!kind) return notApplicable(`lab ${lab.name}: deployer ${lab.deployer.kind} keeps no boot configuration stackgate can read`);
  // A node without roles runs nothing of the lab's; every other node must show what it brings back.
  const judged = lab.nodes.filter((n) => n.roles.length > 0);
  const seen = await Promise.all(judged.map(async (n) => (await bootFindings(node(n.name), lab, n, kind)).map((f) => `${n.name}: ${f}`)));
  if (judged.length === 0) seen.push([`no node of lab ${lab.name} has a role: nothing to bring back was deployed`]);
  expect(seen.flat(), `services that will not come back after a reboot (${kind})`).toEqual([]);
});

check('compute.kolla-containers', "Every node runs the deployer's containers for its roles, all up and healthy", async ({ lab, node, notApplicable }) => {
  if (lab.deployer.kind !== 'kolla') notApplicable(`lab ${lab.name}: deployer ${lab.deployer.kind} runs no containers (the catalog and agent checks prove its services)`);
  const findings = (await Promise.all(lab.nodes.map(async (n) => (await containerFindings(node(n.name), lab, n)).map((f) => `${n.name}: ${f}`)))).flat();
  expect(findings, 'containers missing, stopped or unhealthy').toEqual([]);
});

check('compute.juju-status', 'Every charm is active/idle and every machine started in juju status', async (ctx) => {
  const { lab, client, notApplicable, requires } = ctx;
  // A lab that follows a Juju design without Juju (a twin on distribution packages) says so: the item is unproven there.
  requires('juju');
  if (lab.deployer.kind !== 'juju') notApplicable(`lab ${lab.name}: deployer ${lab.deployer.kind} is not Juju`);
  const shell = client();
  const status = parseJujuStatus(await shell.out(jujuStatusCommand(lab)), `on ${shell.node.name}`);
  const model = `Juju model ${status.model?.name ?? ''}`;
  expect(jujuStatusFindings(status), `${model} not settled (seen from ${shell.node.name})`).toEqual([]);
});
