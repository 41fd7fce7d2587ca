/**
 * Central logging as the spec's `logging` says (seed 004): rsyslog on every node; the collectors take the others'
 * messages on TCP (or UDP) and write one file per sender; the first collector keeps its own messages, every other node
 * forwards to the collectors in the spec's order, the next one only while the one before is suspended (rsyslog's
 * action failover), through a disk-assisted queue so that nothing is lost while a collector is switched.
 * The nodes share the host's /dev/log (a namespace has no file system of its own), so each rsyslog takes local
 * messages on its node's loopback, 127.0.0.1:<logging.localPort, 514>/udp, which `logger -n 127.0.0.1` writes to.
 */
import type { Lab, LabNode } from '../../../helpers/lab/model.ts';
import type { LoggingSpec } from '../../../helpers/lab/spec.ts';
import { daemon, type Component, type Daemon } from '../component.ts';
import type { LabPaths } from '../paths.ts';
import { need } from './roles.ts';


const spec = (lab: Lab): LoggingSpec => need(lab.spec.logging, `lab ${lab.name}: no logging in spec`);
const address = (node: LabNode) => need(node.apiAddress, `logging node ${node.name} has no API address`);

/** Where a collector writes its senders' files: the spec's directory (its {node} the collector), else the state dir. */
export function collectorDir(lab: Lab, paths: LabPaths, collector: LabNode): string {
  const dir = spec(lab).directory;
  return dir ? dir.replaceAll('{node}', collector.name) : paths.node(collector.name, 'rsyslog', 'remote');
}

/** The collectors a node forwards to, in failover order (itself left out: it keeps what it logs). */
export function forwardTargets(lab: Lab, node: LabNode): LabNode[] {
  const collectors = spec(lab).collectors.map((c) => lab.node(c));
  if (collectors[0]?.name === node.name) return [];
  const targets = collectors.filter((c) => c.name !== node.name);
  return spec(lab).failover === false ? targets.slice(0, 1) : targets;
}

/** A string for RainerScript: every value is a schema-checked name, address or path; quotes are escaped anyway. */
const s = (v: string | number) => `"${String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

export function renderRsyslog(lab: Lab, paths: LabPaths, node: LabNode): string {
  const log = spec(lab);
  const port = log.port ?? 10514;
  const protocol = log.protocol ?? 'tcp';
  const dir = paths.node(node.name, 'rsyslog');
  const collectors = log.collectors;
  const lines = [
    `# Rendered by stackgate (local provider) for ${lab.name}/${node.name}; do not edit.`,
    `global(workDirectory=${s(`${dir}/spool`)} maxMessageSize="64k")`,
    'module(load="imudp")',
    `input(type="imudp" address="127.0.0.1" port=${s(log.localPort ?? 514)} ruleset="local")`,
  ];
  if (collectors.includes(node.name)) {
    const out = collectorDir(lab, paths, node);
    lines.push(
      `template(name="perSender" type="string" string=${s(`${out}/%FROMHOST-IP%.log`)})`,
      'ruleset(name="remote") {',
      '  action(type="omfile" dynaFile="perSender" template="RSYSLOG_FileFormat"',
      '         dirCreateMode="0750" fileCreateMode="0640")',
      '}',
      protocol === 'tcp' ? 'module(load="imtcp")' : '',
      `input(type=${s(protocol === 'tcp' ? 'imtcp' : 'imudp')} address=${s(address(node))} port=${s(port)}` +
        ' ruleset="remote")',
    );
  }
  const targets = forwardTargets(lab, node);
  if (targets.length === 0) {
    const own = `${collectorDir(lab, paths, node)}/${address(node)}.log`;
    lines.push('ruleset(name="local") {', `  action(type="omfile" file=${s(own)} template="RSYSLOG_FileFormat")`, '}');
  } else {
    // The queue is the ruleset's, not an action's: an action with a queue of its own never reads as suspended, and
    // the next collector would never be tried. On disk when memory fills or rsyslog stops, so nothing is dropped.
    lines.push(
      'ruleset(name="local" queue.type="LinkedList" queue.filename="forward" queue.saveOnShutdown="on"',
      '        queue.maxDiskSpace="64m" queue.size="20000") {',
    );
    targets.forEach((t, i) => {
      const last = i === targets.length - 1;
      lines.push(
        `  action(type="omfwd" name=${s(`to-${t.name}`)} target=${s(address(t))} port=${s(port)}` +
          ` protocol=${s(protocol)}`,
        // Only the last retries forever (messages wait in the queue); the others give up fast and hand over.
        `         action.resumeRetryCount=${s(last ? -1 : 0)} action.resumeInterval="2"` +
          `${i > 0 ? ' action.execOnlyWhenPreviousIsSuspended="on"' : ''})`,
      );
    });
    lines.push('}');
  }
  return `${lines.filter(Boolean).join('\n')}\n`;
}

function renderNode(lab: Lab, paths: LabPaths, node: LabNode): Daemon {
  const dir = paths.node(node.name, 'rsyslog');
  const collector = spec(lab).collectors.includes(node.name);
  const port = spec(lab).port ?? 10514;
  return daemon(node, 'rsyslog', {
    argv: ['/usr/sbin/rsyslogd', '-n', '-f', `${dir}/rsyslog.conf`, '-i', `${paths.run}/${node.name}-rsyslog.pid`],
    files: [{ path: `${dir}/rsyslog.conf`, content: renderRsyslog(lab, paths, node) }],
    dirs: [
      { path: dir }, { path: `${dir}/spool`, mode: 0o700 },
      ...(collector || forwardTargets(lab, node).length === 0
        ? [{ path: collectorDir(lab, paths, node), mode: 0o750 }]
        : []),
    ],
    health: collector && (spec(lab).protocol ?? 'tcp') === 'tcp' ? [{ kind: 'tcp', host: address(node), port }] : [],
  });
}

/** Every node with an API address logs; the collectors first (the others connect to them). */
const loggingNodes = (lab: Lab) => (lab.spec.logging ? lab.nodes.filter((n) => n.apiAddress) : []);

export const rsyslog: Component = {
  name: 'rsyslog',
  needed: (lab) => !!lab.spec.logging,
  packages: () => ['rsyslog', 'bsdutils'],
  render: ({ lab, paths }) => loggingNodes(lab).map((n) => renderNode(lab, paths, n)),
  keeps: ({ lab, paths }) => loggingNodes(lab).flatMap((n) => [
    paths.node(n.name, 'rsyslog', 'spool'),
    ...(lab.spec.logging!.collectors.includes(n.name) ? [collectorDir(lab, paths, n)] : []),
  ]),
};
