import { describe, expect, it } from 'vitest';
import { metadataServiceFindings } from './metadata-service.ts';

const id = '5a1c0e0e-1111-4222-8333-944455556666';
const json = JSON.stringify({ uuid: id, public_keys: { 'sg-key': 'ssh-ed25519 AAAA sg' } });

describe('metadataServiceFindings', () => {
  it('accepts the server\'s own metadata with its key', () => {
    expect(metadataServiceFindings('guest g', id, 'sg-key', `meta_data.json\n${json}`)).toEqual([]);
  });

  it('names a service that does not answer, with what wget said', () => {
    const said = 'no answer (wget exit 1: wget: server returned error: HTTP/1.1 500 )';
    const f = metadataServiceFindings('guest g', id, 'sg-key', said);
    expect(f).toEqual([expect.stringMatching(/^guest g: the metadata service \(http:\/\/169\.254\.169\.254.*HTTP\/1\.1 500/)]);
  });

  it('names another server\'s metadata and a missing key', () => {
    const other = JSON.stringify({ uuid: 'x', public_keys: {} });
    const f = metadataServiceFindings('guest g', id, 'sg-key', `meta_data.json\n${other}`);
    expect(f).toHaveLength(2);
    expect(f[0]).toContain(`names instance x, not ${id}`);
    expect(f[1]).toContain('lists no public key sg-key (public_keys: none)');
  });

  it('names an answer that is not JSON', () => {
    expect(metadataServiceFindings('guest g', id, undefined, 'meta_data.json\n<html>')[0]).toContain('not JSON: <html>');
  });
});
