import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../lab/load.ts';
import { jujuStatusFindings, parseJujuStatus } from './juju.ts';

/** Juju's own `juju status --format json` documents (fixtures/juju/README.md says where each comes from). */
const judged = (name: string) =>
  jujuStatusFindings(parseJujuStatus(readFileSync(join(repoRoot, 'fixtures/juju/status', `${name}.json`), 'utf8'), name));

describe('juju status: every charm active/idle, every machine started (D-011 item 1)', () => {
  it('passes a model whose units are all active/idle on started machines', () => {
    expect(judged('all-active-idle')).toEqual([]);
  });

  it('names a unit whose hook failed and one still allocating, with what Juju said', () => {
    expect(judged('unit-hook-failed')).toEqual([
      'unit wordpress/0 (application wordpress, machine 1): ' +
        'workload error ("hook failed: some-relation-changed for mysql:server"), agent idle; expected active/idle',
      'unit mysql/0 (application mysql, machine 1): ' +
        'workload waiting ("waiting for machine"), agent allocating; expected active/idle',
    ]);
  });

  it('names a unit whose agent is lost', () => {
    expect(judged('unit-agent-lost')).toEqual([
      'unit dummy-application/0 (application dummy-application, machine 0): ' +
        `workload unknown ("agent lost, see 'juju show-status-log dummy-application/0'"), ` +
        'agent lost ("agent is not communicating with the server"); expected active/idle',
    ]);
  });

  it('names every machine that is not started: stopped, in error, never started', () => {
    const machines = judged('machines-stopped-error-dead').filter((f) => f.startsWith('machine'));
    expect(machines).toEqual([
      'machine 3: agent stopped ("Really?"), instance pending; expected started',
      'machine 4: agent error ("Beware the red toys"), instance pending; expected started',
      'machine 5: agent pending, instance pending; expected started',
    ]);
  });

  it('looks into subordinates and containers', () => {
    expect(judged('subordinate-error')).toEqual([
      'unit logging/1 (application logging, subordinate of mysql/0): ' +
        'workload error ("somehow lost in all those logs"), agent idle; expected active/idle',
    ]);
    expect(judged('container-pending')).toEqual(['machine 1/lxd/1: agent pending, instance pending; expected started']);
  });

  it('fails a model with nothing deployed, and output that is not a status', () => {
    expect(judged('machine-started')).toEqual(['model controller has no applications: nothing is deployed']);
    expect(() => parseJujuStatus('ERROR no current controller', 'jumphost'))
      .toThrow('jumphost: juju status printed no JSON: ERROR no current controller');
  });
});
