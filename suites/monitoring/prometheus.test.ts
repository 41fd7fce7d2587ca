import { afterAll, expect } from 'vitest';
import { check, type CheckContext } from '../../helpers/gate/check.ts';
import { activeTargets, buildInfo, prometheusOf, query, ready, statusProblem, type Prometheus } from '../../helpers/prometheus/client.ts';
import { closeAgents, firstLine, get } from '../../helpers/prometheus/http.ts';
import { compareTargets, describeTarget, downQuery, healthFindings, missingFindings } from '../../helpers/prometheus/targets.ts';

afterAll(closeAgents);

/** Prometheus as the spec places it; a lab without one is not judged here. */
function prometheus({ lab, notApplicable }: CheckContext): Prometheus {
  if (!lab.spec.monitoring) return notApplicable('the spec has no monitoring section');
  return prometheusOf(lab);
}

/** The active targets beside the spec's expectation; a Prometheus that cannot be read blocks the check. */
async function compared(ctx: CheckContext) {
  const prom = prometheus(ctx);
  // Recorded as blocked, not failed: mon.prometheus-up fails with the cause.
  const active = await ctx.needs(`reading the active targets of ${prom.service.label} (see mon.prometheus-up)`, activeTargets(prom, ctx.lab, { signal: ctx.signal }));
  const comparison = compareTargets(ctx.lab.expectedTargets, active);
  await ctx.attach('active targets', JSON.stringify(active, null, 2), 'application/json');
  if (comparison.notExpected.length) {
    await ctx.attach('targets not expected on this lab', comparison.notExpected.map((t) => `${describeTarget(t)}: ${t.notExpected}`).join('\n'));
  }
  if (comparison.extra.length) {
    await ctx.attach('extra targets (not in the spec, not a failure)', comparison.extra.map((a) => `job ${a.labels.job} instance ${a.labels.instance} (${a.health})`).join('\n'));
  }
  return { prom, active, comparison };
}

check('mon.prometheus-up', 'Prometheus answers on its VIP, with the basic auth the spec declares', async (ctx) => {
  const prom = prometheus(ctx);
  const { lab, signal } = ctx;
  const problems: string[] = [];
  const r = await ready(prom, lab, { signal });
  if (r.status !== 200) problems.push(statusProblem(prom, '/-/ready', r).message);
  else await ctx.attach('build info', JSON.stringify(await buildInfo(prom, lab, { signal }), null, 2), 'application/json');
  // Only a Prometheus that answers can show whether it demands the credentials.
  if (prom.auth && r.status === 200) {
    const anonymous = await get(lab, prom.service, '/-/ready', { signal });
    if (anonymous.status !== 401) {
      problems.push(`${prom.service.label} answered GET /-/ready without credentials with HTTP ${anonymous.status}, expected 401: the spec declares basic auth (user ${prom.auth.user}): ${firstLine(anonymous.body)}`);
    }
  }
  expect(problems, 'Prometheus readiness').toEqual([]);
});

check('mon.targets-present', 'every scrape target the spec expects is among Prometheus\' active targets', async (ctx) => {
  const { prom, active, comparison } = await compared(ctx);
  expect(missingFindings(comparison, active, prom.service.label), 'expected scrape targets').toEqual([]);
});

check('mon.targets-up', 'every expected scrape target is up, without error, scraped within two intervals; PromQL agrees', async (ctx) => {
  const { prom, comparison } = await compared(ctx);
  const interval = ctx.lab.spec.monitoring!.prometheus.scrapeIntervalSeconds ?? 60;
  const expectedNow = comparison.present.length + comparison.missing.length;
  if (comparison.present.length === 0) {
    expect([`none of the ${expectedNow} expected targets is active in ${prom.service.label}, so none can be judged up (see mon.targets-present)`], 'expected targets up').toEqual([]);
  }
  const findings = healthFindings(comparison, new Date(), 2 * interval, `two scrape intervals (2 × ${interval} s, monitoring.prometheus.scrapeIntervalSeconds)`);
  const promql = downQuery(comparison.present.map((p) => p.expected.job));
  const down = await ctx.needs(`the PromQL query ${promql} on ${prom.service.label}`, query(prom, ctx.lab, promql, { signal: ctx.signal }));
  await ctx.attach(`PromQL ${promql}`, JSON.stringify(down, null, 2), 'application/json');
  findings.push(...down.map((s) => `PromQL ${promql} returns job ${s.metric.job} instance ${s.metric.instance} (up is ${s.value[1]})`));
  expect(findings, 'expected targets up').toEqual([]);
});
