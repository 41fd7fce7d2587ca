import { expect } from 'vitest';
import { check } from '../../helpers/gate/check.ts';
import {
  KOLLA_DEFAULT_DISTRO, imageArch, imagesAreAarch64, imagesSource, kollaImageFacts, kollaImageTag, kollaMajor, publishedImages,
} from '../../helpers/lab/kolla.ts';

check('pre.nested-virt', 'guests are emulated where the nodes offer no nested virtualisation', ({ lab, notApplicable }) => {
  const why = lab.provider === 'lima' ? 'Lima runs the nodes under QEMU/HVF, which offers no nested virtualisation' : lab.lacks('kvm');
  if (!why) return notApplicable(`provider ${lab.provider} and the spec declares no lack of kvm`);
  const compute = lab.spec.compute ?? {};
  const virt = compute.virtType ?? 'kvm';
  const problems: string[] = [];
  if (virt === 'kvm' || (lab.provider === 'lima' && virt !== 'qemu')) {
    problems.push(`compute.virtType is ${virt}${compute.virtType ? '' : " (Nova's default)"}, but ${why}: set qemu`);
  }
  if (virt === 'qemu' && imagesAreAarch64(lab.deployer) && (compute.cpuMode !== 'custom' || compute.cpuModel !== 'max')) {
    problems.push(`aarch64 QEMU guests need cpuMode custom and cpuModel max (as Kolla's CI sets them); the spec has ${compute.cpuMode ?? 'no cpuMode'}, ${compute.cpuModel ?? 'no cpuModel'}`);
  }
  expect(problems, 'virtualisation of guests').toEqual([]);
});

check('pre.kolla-images', 'Kolla publishes the images the spec pulls, or the plan builds them', ({ lab, notApplicable }) => {
  const d = lab.deployer;
  if (d.kind !== 'kolla') return notApplicable(`the deployer is ${d.kind}, not Kolla`);
  const distro = d.baseDistro ?? KOLLA_DEFAULT_DISTRO;
  const arch = imageArch(d);
  const tag = kollaImageTag(lab.release, distro, d.imageTagSuffix ?? '');
  const published = publishedImages(lab.release);
  if (!published || !tag) return notApplicable(`fixtures/kolla/images-published.json records nothing about Kolla ${lab.release} ${distro} images`);
  if (imagesSource(d) === 'build') {
    const node = d.images?.registryNode;
    expect(
      node !== undefined && lab.nodes.some((n) => n.name === node && n.managementAddress),
      `deployer.images.source is build: kolla-build and the registry need registryNode, a node with a management address; the spec names ${node ?? 'none'}`,
    ).toBe(true);
    return;
  }
  const { registry, namespace } = kollaImageFacts();
  const hit = published.find((p) => p.distro === distro && p.arch === arch);
  const offered = published.filter((p) => p.arch === arch).map((p) => `${p.distro} (${p.tag})`);
  expect(
    hit?.tag,
    hit
      ? `Kolla publishes ${registry}/${namespace}/<image>:${hit.tag} (${hit.job}), the spec's imageTagSuffix makes it pull :${tag}`
      : `the spec pulls ${registry}/${namespace}/<image>:${tag} with no build step, but Kolla ${lab.release} publishes ${arch} images ` +
          `only for ${offered.join(', ') || 'no distribution'}, the spec wants ${distro}: set deployer.images.source build ` +
          `(kolla-build into a registry on a node) or baseDistro ${published.find((p) => p.arch === arch)?.distro ?? '(none published)'}`,
  ).toBe(tag);
});

check('pre.release-consistent', 'the deployer version deploys the OpenStack release the design names', ({ lab, notApplicable }) => {
  if (lab.deployer.kind !== 'kolla') return notApplicable(`the deployer is ${lab.deployer.kind}, whose version the spec does not tie to a release`);
  if (!lab.deployer.version) return notApplicable('the spec names no Kolla-Ansible version');
  const wanted = kollaMajor(lab.release);
  expect(
    kollaMajor(lab.deployer.version),
    `OpenStack ${lab.release} is deployed by Kolla-Ansible ${wanted ?? '(unknown release)'}.x, the spec names Kolla-Ansible ${lab.deployer.version}`,
  ).toBe(wanted);
});
