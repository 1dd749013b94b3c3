// Extra signed targets published beside the manifest: the per-environment slices devices poll.
import { writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { fetchVerifiedManifest, TrustVerificationError } from '../../src/trust/client.ts';
import { environmentTarget, publishManifest, targetObjectKey } from '../../src/trust/repository.ts';
import { tempDir } from '../helpers.ts';
import { makeRepo } from './helpers.ts';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('environment slices as signed targets', () => {
  test('a device fetches and verifies only its environment slice; a tampered slice is refused', async () => {
    const repo = await makeRepo();
    const full = Buffer.from('{"sequence":1,"environments":{"dev":{},"production":{}}}');
    const prod = Buffer.from('{"sequence":1,"environments":{"production":{}}}');
    await publishManifest({
      io: repo.io,
      manifestBytes: full,
      keys: repo.keys,
      extraTargets: { [environmentTarget('production')]: prod },
    });
    expect(targetObjectKey('environments/production.json', sha(prod))).toBe(
      `targets/environments/${sha(prod)}.production.json`,
    );

    const state = tempDir('mg-trust-state-');
    const r = await fetchVerifiedManifest({
      trustedRoot: repo.rootBytes,
      stateDir: state,
      source: repo.io,
      target: environmentTarget('production'),
    });
    expect(r.manifestBytes.equals(prod)).toBe(true);
    expect(r.sha256).toBe(sha(prod));

    const missing = fetchVerifiedManifest({
      trustedRoot: repo.rootBytes,
      stateDir: tempDir('mg-trust-state-'),
      source: repo.io,
      target: environmentTarget('qa'),
    });
    await expect(missing).rejects.toThrow('does not list environments/qa.json');

    writeFileSync(
      repo.io.pathOf(targetObjectKey('environments/production.json', sha(prod))),
      Buffer.from('{"sequence":1,"environments":{"production":{"x":1}}}'.slice(0, prod.length)),
    );
    const tampered = fetchVerifiedManifest({
      trustedRoot: repo.rootBytes,
      stateDir: tempDir('mg-trust-state-'),
      source: repo.io,
      target: environmentTarget('production'),
    });
    await expect(tampered).rejects.toBeInstanceOf(TrustVerificationError);
    await expect(tampered).rejects.toMatchObject({ code: 'tampered' });
  });

  test('target names that would escape the targets folder are refused', async () => {
    const repo = await makeRepo();
    await expect(
      publishManifest({
        io: repo.io,
        manifestBytes: Buffer.from('{}'),
        keys: repo.keys,
        extraTargets: { '../evil.json': Buffer.from('{}') },
      }),
    ).rejects.toThrow();
  });
});
