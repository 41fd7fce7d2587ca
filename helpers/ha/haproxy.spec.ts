import { describe, expect, it } from 'vitest';
import { loadLab } from '../lab/load.ts';
import {
  apiBackends, backendFindings, haproxyNodes, inTransition, parseProbe, statProbe, type NodeStats,
} from './haproxy.ts';

const lab = loadLab('ha-infra');
const HEADER = '# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,' +
  'weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,' +
  'rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,' +
  'hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,';
const cols = HEADER.slice(2).split(',');

/** One CSV row as HAProxy 2.6 writes it, with only the fields the judge reads filled in. */
function row(proxy: string, server: string, status: string, check = '', last = ''): string {
  const f = cols.map(() => '');
  const set = (name: string, v: string) => void (f[cols.indexOf(name)] = v);
  set('pxname', proxy);
  set('svname', server);
  set('status', status);
  set('check_status', check);
  set('last_chk', last);
  return f.join(',');
}

const controllers = ['controller-1', 'controller-2', 'controller-3'];
/** ha-infra's APIs, in the spec's order: each has a backend with every controller. */
const services = Object.keys(lab.spec.services ?? {});
function stats(node: string, status: (service: string, server: string) => string = () => 'UP'): string {
  const lines = [HEADER];
  for (const service of services) lines.push(row(`${service}_api`, 'FRONTEND', 'OPEN'));
  for (const service of services) {
    for (const c of controllers) lines.push(row(`${service}_back`, c, status(service, c), 'L4OK'));
    lines.push(row(`${service}_back`, 'BACKEND', 'UP'));
  }
  lines.push(row('postgresql_back', 'controller-1', 'UP', 'L4OK'));
  return `=== socket /state/run/${node}-haproxy.sock\n${lines.join('\n')}\n`;
}

describe('HAProxy API backends', () => {
  const backends = apiBackends(lab);
  const all = (s: (node: string) => string) => haproxyNodes(lab).map((n) => parseProbe(n.name, s(n.name)));

  it('expects every spec service with every control node, on each loadbalancer', () => {
    expect(backends.map((b) => [b.service, b.servers.map((n) => n.name)])).toEqual(services.map((s) => [s, controllers]));
    expect(haproxyNodes(lab).map((n) => n.name)).toEqual(controllers);
    expect(statProbe(lab)).toContain('ss -Hxlp');
  });

  it('agree when every server is UP everywhere', () => {
    expect(backendFindings(backends, all((n) => stats(n)))).toEqual([]);
  });

  it('name the loadbalancer, backend, server and the status seen when one is down or going down', () => {
    const seen = all((n) => stats(n, (svc, c) => (svc === 'keystone' && c === 'controller-3'
      ? (n === 'controller-1' ? 'DOWN' : 'UP 2/5') : 'UP')));
    expect(seen[0]!.rows.length).toBeGreaterThan(0);
    const f = backendFindings(backends, seen);
    expect(f).toHaveLength(3);
    expect(f[0]).toBe('controller-1: backend keystone_back server controller-3 is DOWN (last check L4OK)');
    expect(f[1]).toContain('controller-2: backend keystone_back server controller-3 is UP 2/5, failing its health');
  });

  it('tell a server between states (UP 4/5, DOWN 1/2) from a settled one, so the check reads again', () => {
    expect(inTransition(all((n) => stats(n)))).toBe(false);
    expect(inTransition(all((n) => stats(n, (_, c) => (c === 'controller-3' ? 'DOWN' : 'UP'))))).toBe(false);
    expect(inTransition(all((n) => stats(n, (_, c) => (c === 'controller-3' && n === 'controller-2' ? 'UP 4/5' : 'UP')))))
      .toBe(true);
    expect(inTransition(all((n) => stats(n, (_, c) => (c === 'controller-3' ? 'DOWN 1/2' : 'UP'))))).toBe(true);
  });

  it('name a loadbalancer whose HAProxy does not answer, a missing backend and a missing server', () => {
    const noSocket: NodeStats = parseProbe('controller-3', '');
    expect(noSocket.error).toContain('no HAProxy admin socket');
    const partial = `=== socket /s\n${[HEADER, row('keystone_back', 'controller-1', 'UP')].join('\n')}\n`;
    const f = backendFindings(backends, [parseProbe('controller-1', partial), noSocket]);
    expect(f).toEqual([
      'controller-1: backend keystone_back has no server controller-2 (servers: controller-1)',
      'controller-1: backend keystone_back has no server controller-3 (servers: controller-1)',
      ...services.slice(1).map((s) => `controller-1: HAProxy has no backend for ${s} (${s}_back; proxies: keystone_back)`),
      'controller-3: no HAProxy admin socket listening in its network namespace (ss -xlp): HAProxy is not running there',
    ]);
  });

  it("take Kolla's proxies of a service (keystone_internal, nova_api_external) and its servers by host name", () => {
    const rows = [HEADER, row('keystone_internal', 'controller-1', 'MAINT')].join('\n');
    const kolla = `=== socket /var/lib/kolla/haproxy/haproxy.sock\n${rows}\n`;
    const f = backendFindings([{ service: 'keystone', servers: [lab.node('controller-1')] }], [parseProbe('lb', kolla)]);
    expect(f).toEqual(['lb: backend keystone_internal server controller-1 is MAINT']);
  });

  it('apply on the embedded lab too: its one control node behind each of its services', () => {
    const embedded = loadLab('embedded');
    expect(haproxyNodes(embedded).map((n) => n.name)).toEqual(['node1']);
    expect(apiBackends(embedded).every((b) => b.servers.map((n) => n.name).join() === 'node1')).toBe(true);
    // HAProxy without an API behind it (embedded-infra): nothing for this check to judge.
    expect(apiBackends(loadLab('embedded-infra'))).toEqual([]);
  });
});
