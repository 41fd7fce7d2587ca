/** Name resolution inside the nodes: resolv.conf (the lab's BIND) and /etc/hosts (every node), as Kolla writes them. */
import { hostname } from 'node:os';
import type { Lab } from '../../../helpers/lab/model.ts';
import type { Component, LabContext, RenderedFile } from '../component.ts';
import { netnsName } from '../paths.ts';
import { dnsNodes, nodeAddresses } from './roles.ts';

export function renderResolvConf(lab: Lab): string | undefined {
  const dns = lab.spec.dns;
  if (!dns) return undefined;
  const servers = dnsNodes(lab).map((n) => n.apiAddress ?? nodeAddresses(n)[0]).filter((a): a is string => !!a);
  if (servers.length === 0) return undefined;
  return `# stackgate ${lab.name}: the lab's own DNS\n${servers.map((s) => `nameserver ${s}`).join('\n')}\nsearch ${dns.domain}\n`;
}

/**
 * `uts`: the name `hostname` prints inside a node. The nodes share the host's UTS namespace, so without a line for it
 * sudo (the agents' root helper, privsep) asks the lab's BIND for it and waits out the timeout (20 s a call: the
 * first guest after a cold `up` waited 50 s for its metadata), where a real node finds its own name in /etc/hosts.
 */
export function renderHosts(lab: Lab, uts = hostname()): string {
  const domain = lab.spec.dns?.domain;
  const own = lab.nodes.some((n) => n.hostname === uts) ? [] : [`127.0.1.1 ${uts}`];
  const lines = ['127.0.0.1 localhost', ...own, `# stackgate ${lab.name}: the lab's nodes`];
  for (const n of lab.nodes) {
    const addr = n.apiAddress ?? n.managementAddress;
    if (addr) lines.push(`${addr} ${domain ? `${n.hostname}.${domain} ` : ''}${n.hostname}`);
  }
  return `${lines.join('\n')}\n`;
}

/** `ip netns exec` bind-mounts /etc/netns/<ns>/<file> over /etc/<file> for everything started in the node. */
export const hosts: Component = {
  name: 'hosts',
  needed: () => true,
  files: ({ lab }: LabContext): RenderedFile[] => {
    const resolv = renderResolvConf(lab);
    return lab.nodes.flatMap((n) => [
      ...(resolv ? [{ path: `/etc/netns/${netnsName(lab, n)}/resolv.conf`, content: resolv }] : []),
      { path: `/etc/netns/${netnsName(lab, n)}/hosts`, content: renderHosts(lab) },
    ]);
  },
};
