/**
 * BIND on the lab's DNS nodes: Debian/Ubuntu's named.conf includes named.conf.options and named.conf.local, which
 * are rendered here; the zones are the embedded lab's (renderZones), i.e. the records the dns layer derives from
 * the spec (Lab.dnsRecords, Lab.ptrRecords) and checks against.
 */
import type { Lab, LabNode } from '../../helpers/lab/model.ts';
import { renderZones } from '../local/infra/bind.ts';
import { dnsNodes } from '../local/infra/roles.ts';
import { header, type RenderedFile } from './common.ts';

/** Where the files go on the node (Debian/Ubuntu's bind9 package layout). */
export const BIND_CONF_DIR = '/etc/bind';

export function renderNamedOptions(lab: Lab, node: LabNode, confDir = BIND_CONF_DIR, cacheDir = '/var/cache/bind'): string {
  const recursion = (lab.spec.dns?.recursion ?? []).map((n) => lab.network(n).cidr.text);
  const listen = [...node.nics.filter((n) => n.use === 'address' && n.address).map((n) => n.address!), '127.0.0.1'];
  return `${header(lab, `BIND options on ${node.name} (${confDir}/named.conf.options)`, '//')}acl lab_recursion { ${recursion.map((c) => `${c}; `).join('')}};
options {
  directory "${cacheDir}";
  listen-on port 53 { ${listen.map((a) => `${a}; `).join('')}};
  listen-on-v6 { none; };
  allow-query { any; };
  recursion ${recursion.length > 0 ? 'yes' : 'no'};
  allow-recursion { lab_recursion; };
  allow-query-cache { lab_recursion; };
  dnssec-validation auto;
  notify no;
  version none;
};
`;
}

export function renderNamedLocal(lab: Lab, node: LabNode, confDir = BIND_CONF_DIR): string {
  return (
    header(lab, `BIND zones on ${node.name} (${confDir}/named.conf.local)`, '//') +
    renderZones(lab, node)
      .map((z) => `zone "${z.zone}" { type primary; file "${confDir}/zones/${z.file}"; };\n`)
      .join('')
  );
}

/** bind/<node>/{named.conf.options, named.conf.local, zones/*} for every DNS node. */
export function renderBind(lab: Lab): RenderedFile[] {
  return dnsNodes(lab).flatMap((node) => [
    { path: `bind/${node.name}/named.conf.options`, content: renderNamedOptions(lab, node) },
    { path: `bind/${node.name}/named.conf.local`, content: renderNamedLocal(lab, node) },
    ...renderZones(lab, node).map((z) => ({ path: `bind/${node.name}/zones/${z.file}`, content: z.content })),
  ]);
}
