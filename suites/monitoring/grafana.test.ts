import { afterAll, expect } from 'vitest';
import { check, type CheckContext } from '../../helpers/gate/check.ts';
import { dashboardTitles, datasourceByName, datasourceHealth, grafanaHealth, grafanaOf, type Grafana } from '../../helpers/prometheus/grafana.ts';
import { closeAgents } from '../../helpers/prometheus/http.ts';

afterAll(closeAgents);

/** Grafana as the spec places it: skipped where the lab lacks it, not applicable where the spec has none. */
function grafana({ lab, requires, notApplicable }: CheckContext): Grafana {
  requires('grafana');
  return grafanaOf(lab) ?? notApplicable('the spec has no monitoring.grafana');
}

check('mon.grafana-health', 'Grafana answers /api/health on its VIP over TLS where the VIP has it, its database ok', async (ctx) => {
  const g = grafana(ctx);
  const health = await grafanaHealth(ctx.lab, g, { signal: ctx.signal });
  await ctx.attach('health', JSON.stringify(health, null, 2), 'application/json');
  expect(health.database, `${g.service.label} /api/health database (version ${health.version ?? 'unknown'})`).toBe('ok');
});

check('mon.grafana-datasource', 'Grafana has the Prometheus datasource the spec names, its health check passes, and the named dashboards exist', async (ctx) => {
  const g = grafana(ctx);
  const { lab, signal } = ctx;
  const problems: string[] = [];
  const ds = await datasourceByName(lab, g, g.datasource, { signal });
  if (!ds) problems.push(`${g.service.label} has no datasource named "${g.datasource}" (monitoring.grafana.datasource)`);
  else {
    await ctx.attach(`datasource ${g.datasource}`, JSON.stringify(ds, null, 2), 'application/json');
    const health = await datasourceHealth(lab, g, ds.uid, { signal });
    if (health.status !== 'OK') problems.push(`datasource "${ds.name}" (${ds.type}, ${ds.url}) health check says ${health.status}: ${health.message}`);
  }
  if (g.dashboards.length > 0) {
    const titles = await dashboardTitles(lab, g, { signal });
    for (const d of g.dashboards) if (!titles.includes(d)) problems.push(`${g.service.label} has no dashboard titled "${d}" (monitoring.grafana.dashboards)`);
  }
  expect(problems, 'Grafana datasource and dashboards').toEqual([]);
});
