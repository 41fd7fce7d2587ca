/**
 * The metadata service as a guest sees it (169.254.169.254, through the metadata agent of its chassis to Nova's
 * metadata API): what cloud-init reads where a cloud builds no config drive. The guest image reads its config drive
 * first, so a guest that boots and answers SSH proves nothing of this path.
 */

export const METADATA_URL = 'http://169.254.169.254/openstack/latest/meta_data.json';

/** Run in the guest (busybox: the timeout applet bounds wget, whose own -T crashes in 1.35). */
export const METADATA_READ = [
  `timeout 20 wget -q -O /tmp/meta_data.json ${METADATA_URL} 2>/tmp/meta_data.err; rc=$?`,
  'if [ "$rc" = 0 ]; then echo meta_data.json; cat /tmp/meta_data.json;',
  'else echo "no answer (wget exit $rc: $(tr "\\n" " " </tmp/meta_data.err))"; fi',
].join('\n');

/** What is wrong with the metadata a guest read: no answer, not its own server, or not its key pair's key. */
export function metadataServiceFindings(
  what: string, serverId: string, keyName: string | undefined, out: string,
): string[] {
  const said = `${what}: the metadata service (${METADATA_URL})`;
  const [first, ...rest] = out.trim().split('\n');
  const gave = out.trim().replaceAll('\n', '; ').slice(0, 300);
  if (first !== 'meta_data.json') return [`${said} gave ${gave || 'no answer'}`];
  let md: { uuid?: unknown; public_keys?: Record<string, unknown> };
  try {
    md = JSON.parse(rest.join('\n')) as typeof md;
  } catch {
    return [`${said} answered what is not JSON: ${rest.join(' ').slice(0, 200) || 'nothing'}`];
  }
  const findings: string[] = [];
  if (md.uuid !== serverId) findings.push(`${said} names instance ${String(md.uuid)}, not ${serverId}`);
  const key = keyName ? md.public_keys?.[keyName] : undefined;
  if (keyName && (typeof key !== 'string' || !key.startsWith('ssh-') && !key.startsWith('ecdsa-'))) {
    const listed = Object.keys(md.public_keys ?? {}).join(', ') || 'none';
    findings.push(`${said} lists no public key ${keyName} (public_keys: ${listed})`);
  }
  return findings;
}
