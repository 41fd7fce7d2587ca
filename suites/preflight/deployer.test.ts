import { expect } from 'vitest';
import { check } from '../../helpers/gate/check.ts';
import { KOLLA_DEFAULT_DISTRO, imagesAreAarch64, kollaAarch64Distros, kollaMajor } from '../../helpers/lab/kolla.ts';

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

check('pre.kolla-images', 'Kolla publishes images for the chosen distribution and architecture', ({ lab, notApplicable }) => {
  if (lab.deployer.kind !== 'kolla') return notApplicable(`the deployer is ${lab.deployer.kind}, not Kolla`);
  if (!imagesAreAarch64(lab.deployer)) return notApplicable(`the images are not aarch64 (imageTagSuffix "${lab.deployer.imageTagSuffix ?? ''}")`);
  const major = kollaMajor(lab.deployer.version ?? lab.release);
  const distros = kollaAarch64Distros(major);
  if (!distros) return notApplicable(`no fact is recorded about aarch64 images of Kolla ${lab.deployer.version ?? lab.release}`);
  const distro = lab.deployer.baseDistro ?? KOLLA_DEFAULT_DISTRO;
  expect(
    distros,
    `Kolla ${lab.release} (Kolla-Ansible ${major}) publishes aarch64 images only for ${distros.join(', ')}, the spec wants ${distro}` +
      (major === 21 ? ' (Ubuntu noble arm64 images start with 2026.1)' : '') +
      `: use baseDistro ${distros[0]}, build the ${distro} images with kolla-build, or record a waiver`,
  ).toContain(distro);
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
