// Just enough of GitHub Actions to dry-run the nightly workflow on this machine: the workflow's shape, and the
// `${{ }}` expressions it uses (contexts, literals, == != ! && || and parentheses, always() success() failure()).
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

export interface Step {
  readonly name?: string;
  readonly id?: string;
  readonly if?: string;
  readonly uses?: string;
  readonly run?: string;
  readonly with?: Record<string, string | number | boolean>;
  readonly env?: Record<string, string>;
  readonly shell?: string;
  readonly 'continue-on-error'?: boolean;
}

export interface Job {
  readonly 'runs-on': string | string[];
  readonly env?: Record<string, string>;
  readonly steps: Step[];
}

export interface Workflow {
  readonly name?: string;
  readonly on: {
    schedule?: { cron: string }[];
    workflow_dispatch?: { inputs?: Record<string, { description?: string; type?: string; default?: string | boolean }> };
  };
  readonly env?: Record<string, string>;
  readonly defaults?: { run?: { shell?: string } };
  readonly jobs: Record<string, Job>;
}

export function loadWorkflow(file: string): Workflow {
  return parse(readFileSync(file, 'utf8')) as Workflow;
}

export type Value = string | number | boolean | null | undefined | Context;
export interface Context {
  [key: string]: Value;
}

export interface Evaluation {
  /** The contexts: inputs, vars, env, github, runner, steps (steps.<id>.outputs.<name>, steps.<id>.outcome). */
  readonly context: Context;
  /** The job's status so far, for always() / success() / failure(). */
  readonly jobStatus: 'success' | 'failure';
}

type Token = { kind: 'str' | 'num' | 'ident' | 'op' | 'paren' | 'comma'; text: string };

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) i++;
    else if (c === "'") {
      let s = '';
      i++;
      for (;;) {
        if (i >= src.length) throw new Error(`unterminated string in expression: ${src}`);
        if (src[i] === "'" && src[i + 1] === "'") {
          s += "'";
          i += 2;
        } else if (src[i] === "'") break;
        else s += src[i++];
      }
      i++;
      out.push({ kind: 'str', text: s });
    } else if (/[0-9]/.test(c)) {
      const m = /^[0-9.]+/.exec(src.slice(i))![0];
      out.push({ kind: 'num', text: m });
      i += m.length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_.-]*/.exec(src.slice(i))![0];
      out.push({ kind: 'ident', text: m });
      i += m.length;
    } else if (['==', '!=', '&&', '||'].includes(src.slice(i, i + 2))) {
      out.push({ kind: 'op', text: src.slice(i, i + 2) });
      i += 2;
    } else if (c === '!' || c === '(' || c === ')' || c === ',') {
      out.push({ kind: c === '!' ? 'op' : c === ',' ? 'comma' : 'paren', text: c });
      i++;
    } else throw new Error(`unsupported character "${c}" in expression: ${src}`);
  }
  return out;
}

const truthy = (v: Value) => v !== undefined && v !== null && v !== false && v !== '' && v !== 0;
const loose = (v: Value) => (typeof v === 'string' ? v.toLowerCase() : v === undefined ? null : v);

/** Evaluate one expression (the text inside `${{ }}`, or an `if:`). */
export function evaluate(expression: string, ev: Evaluation): Value {
  const tokens = tokenize(expression);
  let pos = 0;
  const peek = () => tokens[pos];
  const take = () => tokens[pos++]!;

  const primary = (): Value => {
    const t = take();
    if (!t) throw new Error(`unexpected end of expression: ${expression}`);
    if (t.kind === 'str') return t.text;
    if (t.kind === 'num') return Number(t.text);
    if (t.kind === 'op' && t.text === '!') return !truthy(primary());
    if (t.kind === 'paren' && t.text === '(') {
      const v = or();
      if (take()?.text !== ')') throw new Error(`missing ) in expression: ${expression}`);
      return v;
    }
    if (t.kind === 'ident') {
      if (t.text === 'true' || t.text === 'false') return t.text === 'true';
      if (t.text === 'null') return null;
      if (peek()?.text === '(') {
        take();
        const args: Value[] = [];
        while (peek()?.text !== ')') {
          args.push(or());
          if (peek()?.kind === 'comma') take();
        }
        take();
        switch (t.text) {
          case 'always':
            return true;
          case 'success':
            return ev.jobStatus === 'success';
          case 'failure':
            return ev.jobStatus === 'failure';
          case 'cancelled':
            return false;
          case 'startsWith':
            return String(args[0] ?? '').toLowerCase().startsWith(String(args[1] ?? '').toLowerCase());
          case 'contains':
            return String(args[0] ?? '').toLowerCase().includes(String(args[1] ?? '').toLowerCase());
          default:
            throw new Error(`unsupported function ${t.text}() in expression: ${expression}`);
        }
      }
      let v: Value = ev.context;
      for (const part of t.text.split('.')) v = v && typeof v === 'object' ? (v as Context)[part] : undefined;
      return v;
    }
    throw new Error(`unexpected "${t.text}" in expression: ${expression}`);
  };
  const comparison = (): Value => {
    let left = primary();
    while (peek()?.text === '==' || peek()?.text === '!=') {
      const op = take().text;
      const right = primary();
      left = op === '==' ? loose(left) === loose(right) : loose(left) !== loose(right);
    }
    return left;
  };
  const and = (): Value => {
    let left = comparison();
    while (peek()?.text === '&&') {
      take();
      const right = comparison();
      left = truthy(left) ? right : left;
    }
    return left;
  };
  const or = (): Value => {
    let left = and();
    while (peek()?.text === '||') {
      take();
      const right = and();
      left = truthy(left) ? left : right;
    }
    return left;
  };
  const value = or();
  if (pos !== tokens.length) throw new Error(`unexpected "${tokens[pos]!.text}" in expression: ${expression}`);
  return value;
}

const asText = (v: Value) => (v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));

/** Replace every `${{ … }}` in a string, as the runner does before a step runs. */
export function interpolate(text: string, ev: Evaluation): string {
  return text.replace(/\$\{\{([\s\S]*?)\}\}/g, (_m, expression: string) => asText(evaluate(expression, ev)));
}

/** A step's `if:` (default `success()`); an `if:` may be written with or without `${{ }}`. */
export function condition(step: Step, ev: Evaluation): boolean {
  const text = step.if?.trim();
  if (!text) return ev.jobStatus === 'success';
  const inner = /^\$\{\{([\s\S]*)\}\}$/.exec(text)?.[1] ?? text;
  // GitHub adds success() to a condition that calls none of the status functions.
  const withStatus = /\b(always|success|failure|cancelled)\(/.test(inner) ? inner : `success() && (${inner})`;
  return truthy(evaluate(withStatus, ev));
}

/** Parse $GITHUB_OUTPUT / $GITHUB_ENV: `name=value` lines and `name<<DELIM` … `DELIM` blocks. */
export function parseCommandFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const body: string[] = [];
      for (i++; i < lines.length && lines[i] !== heredoc[2]; i++) body.push(lines[i]!);
      out[heredoc[1]!] = body.join('\n');
    } else if (line.includes('=')) out[line.slice(0, line.indexOf('='))] = line.slice(line.indexOf('=') + 1);
  }
  return out;
}
