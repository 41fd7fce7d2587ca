/**
 * A Juju model as `juju status --format=json` prints it, and the judge of D-011 item 1 of the charmed record: every
 * unit active/idle, every machine started. Only the fields the judge reads are typed.
 */
interface JujuStatusValue {
  readonly current?: string;
  readonly message?: string;
}

interface JujuUnit {
  readonly machine?: string;
  readonly 'workload-status'?: JujuStatusValue;
  readonly 'juju-status'?: JujuStatusValue;
  readonly subordinates?: Readonly<Record<string, JujuUnit>>;
  /** Juju could not read this entity's status; the message says why. */
  readonly 'status-error'?: string;
}

interface JujuMachine {
  readonly 'juju-status'?: JujuStatusValue;
  readonly 'machine-status'?: JujuStatusValue;
  readonly containers?: Readonly<Record<string, JujuMachine>>;
  readonly 'status-error'?: string;
}

interface JujuApplication {
  readonly units?: Readonly<Record<string, JujuUnit>>;
  readonly 'subordinate-to'?: readonly string[];
  readonly 'status-error'?: string;
}

export interface JujuStatus {
  readonly model?: { readonly name?: string };
  readonly machines?: Readonly<Record<string, JujuMachine>>;
  readonly applications?: Readonly<Record<string, JujuApplication>>;
}

/** The model's status from the command's output; an error naming what came back instead of JSON. */
export function parseJujuStatus(text: string, where: string): JujuStatus {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new Error(`${where}: juju status printed no JSON: ${text.trim().slice(0, 200) || '(nothing)'}`);
  }
  if (typeof doc !== 'object' || doc === null || !('applications' in doc || 'machines' in doc)) {
    throw new Error(`${where}: juju status printed JSON without machines or applications: ${text.trim().slice(0, 200)}`);
  }
  return doc as JujuStatus;
}

const said = (s: JujuStatusValue | undefined) => `${s?.current ?? 'no status'}${s?.message ? ` ("${s.message}")` : ''}`;

function unitFindings(app: string, name: string, unit: JujuUnit, principal?: string): string[] {
  const where = principal ? `subordinate of ${principal}` : `machine ${unit.machine ?? '(none)'}`;
  const what = `unit ${name} (application ${app}, ${where})`;
  if (unit['status-error']) return [`${what}: juju could not read its status: ${unit['status-error']}`];
  const out: string[] = [];
  const workload = unit['workload-status'];
  const agent = unit['juju-status'];
  if (workload?.current !== 'active' || agent?.current !== 'idle') {
    out.push(`${what}: workload ${said(workload)}, agent ${said(agent)}; expected active/idle`);
  }
  // A subordinate's application is the one named before the slash of its unit.
  for (const [sub, s] of Object.entries(unit.subordinates ?? {})) out.push(...unitFindings(sub.split('/')[0]!, sub, s, name));
  return out;
}

function machineFindings(id: string, machine: JujuMachine): string[] {
  const out: string[] = [];
  if (machine['status-error']) out.push(`machine ${id}: juju could not read its status: ${machine['status-error']}`);
  else if (machine['juju-status']?.current !== 'started') {
    out.push(`machine ${id}: agent ${said(machine['juju-status'])}, instance ${said(machine['machine-status'])}; expected started`);
  }
  for (const [cid, c] of Object.entries(machine.containers ?? {})) out.push(...machineFindings(cid, c));
  return out;
}

/**
 * Everything in the model that is not active/idle or started, one line each naming the unit, application or machine
 * and what Juju said; empty when the model is settled. A model without applications has deployed nothing.
 */
export function jujuStatusFindings(status: JujuStatus): string[] {
  const apps = Object.entries(status.applications ?? {});
  const out: string[] = [];
  if (apps.length === 0) out.push(`model ${status.model?.name ?? '(unnamed)'} has no applications: nothing is deployed`);
  for (const [name, app] of apps) {
    if (app['status-error']) out.push(`application ${name}: juju could not read its status: ${app['status-error']}`);
    for (const [unit, u] of Object.entries(app.units ?? {})) out.push(...unitFindings(name, unit, u));
  }
  for (const [id, m] of Object.entries(status.machines ?? {})) out.push(...machineFindings(id, m));
  return out;
}
