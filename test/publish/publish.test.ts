// publishRegistry and the publishing commands against a folder store and a real radosgw.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  CONVENIENCE_MANIFEST_KEY,
  MissingBlobsError,
  listManifestSequences,
  publicationHistory,
  publishRegistry,
  resignStore,
} from '../../src/publish/index.ts';
import { manifestSequenceKey } from '../../src/store/keys.ts';
import { TIMESTAMP_KEY, environmentTarget } from '../../src/trust/repository.ts';
import { cli, makeFixture, missingBlobs, verified, type Fixture } from './helpers.ts';
import { NotFoundError } from '../../src/lib/errors.ts';

const publish = (fx: Fixture, extra: Partial<Parameters<typeof publishRegistry>[0]> = {}) =>
  publishRegistry({
    repo: fx.repo,
    store: fx.store,
    keys: fx.keys,
    source: { repository: 'acme/models', commit: fx.head() },
    ...extra,
  });

const timestampBytes = (fx: Fixture) =>
  fx.store.getBytes(TIMESTAMP_KEY).catch((e: unknown) => {
    if (e instanceof NotFoundError) return undefined;
    throw e;
  });

describe.concurrent.each(['folder', 's3'] as const)('publish to a %s store', (kind) => {
  it('publishes a verifiable manifest and one slice per environment; manifest verify shows it', async () => {
    const fx = await makeFixture(kind, 'happy');
    const r = await publish(fx);
    expect(r).toMatchObject({
      status: 'published',
      sequence: 1,
      source: { repository: 'acme/models', commit: fx.head() },
      environments: ['dev', 'production', 'staging'],
    });
    const v = await verified(fx);
    expect(v.sha256).toBe(r.sha256);
    expect(v.manifest).toMatchObject({ sequence: 1, source: { commit: fx.head() } });
    expect(await missingBlobs(fx.store, v.manifest)).toEqual([]);
    // the audit copy and the convenience copy hold exactly the signed bytes
    expect((await fx.store.getBytes(manifestSequenceKey(1))).equals(v.manifestBytes)).toBe(true);
    expect((await fx.store.getBytes(CONVENIENCE_MANIFEST_KEY)).equals(v.manifestBytes)).toBe(true);
    const slice = await verified(fx, environmentTarget('production'));
    expect(Object.keys(slice.manifest.environments)).toEqual(['production']);
    expect(Object.keys(slice.manifest.models['pii-scrubber']!.versions)).toEqual(['1.4.1']);

    const cmd = await cli([
      'manifest',
      'verify',
      fx.storeUrl,
      '--trust',
      fx.rootFile,
      '--environment',
      'production',
      '--json',
    ]);
    expect(cmd.status, cmd.stderr).toBe(0);
    const out = JSON.parse(cmd.stdout);
    expect(out).toMatchObject({
      ok: true,
      sequence: 1,
      source: { commit: fx.head() },
      target: 'environments/production.json',
      environments: { production: { 'pii-scrubber': '1.4.1' } },
    });
    expect(Date.parse(out.expires)).toBeGreaterThan(Date.now());

    // publishing the same content again changes nothing
    const again = await publish(fx);
    expect(again).toMatchObject({ status: 'unchanged', sequence: 1 });
    expect(await listManifestSequences(fx.store)).toEqual([1]);
  });

  it('refuses when a referenced blob is missing and changes nothing', async () => {
    const fx = await makeFixture(kind, 'missing');
    await publish(fx);
    const before = await timestampBytes(fx);
    // Reference intent-classifier 1.0.0 (in no environment yet) and remove one of its blobs from the store.
    const card = readFileSync(`${fx.repo}/models/intent-classifier/versions/1.0.0.yaml`, 'utf8');
    const sha = /model\.safetensors, sha256: ([0-9a-f]{64})/.exec(card)![1]!;
    await fx.store.delete(`blobs/sha256/${sha}`);
    fx.commitEdit('environments/production.yaml', 'rollbackWindow: [1.1.0]', 'rollbackWindow: [1.1.0, 1.0.0]');
    const e = await publish(fx).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(MissingBlobsError);
    expect((e as MissingBlobsError).message).toContain(
      `intent-classifier@1.0.0/model.safetensors: blobs/sha256/${sha} (missing`,
    );
    expect((await timestampBytes(fx))!.equals(before!)).toBe(true);
    expect(await listManifestSequences(fx.store)).toEqual([1]);
    expect((await verified(fx)).manifest.sequence).toBe(1);
    // the CLI says the same, with exit code 1
    const cmd = await cli(['publish', '--repo', fx.repo, '--store', fx.storeUrl, '--keys-dir', fx.keysDir]);
    expect(cmd.status).toBe(1);
    expect(cmd.stderr).toContain('missing or wrong');
    expect((await timestampBytes(fx))!.equals(before!)).toBe(true);
  });

  it('resign keeps the content and extends the expiry; history lists every sequence with its commit', async () => {
    const fx = await makeFixture(kind, 'resign');
    const t0 = new Date();
    const first = await publish(fx, { now: t0 });
    const c2 = fx.commitEdit('environments/production.yaml', 'pii-scrubber: 1.4.1', 'pii-scrubber: 1.4.2');
    const second = await publish(fx, { now: t0, source: { repository: 'acme/models', commit: c2 } });
    expect(second.sequence).toBe(2);
    expect(second.changes.find((c) => c.environment === 'production')).toEqual({
      environment: 'production',
      status: 'changed',
      changes: [{ model: 'pii-scrubber', before: '1.4.1', after: '1.4.2' }],
    });
    const before = await verified(fx);
    const r = await resignStore({ store: fx.store, keys: fx.keys, now: new Date(t0.getTime() + 3600_000) });
    expect(r.sequence).toBe(2);
    const after = await verified(fx);
    expect(after.sha256).toBe(before.sha256);
    expect(after.manifestBytes.equals(before.manifestBytes)).toBe(true);
    expect(after.timestampVersion).toBe(before.timestampVersion + 1);
    expect(Date.parse(after.expires)).toBeGreaterThan(Date.parse(before.expires));

    const h = await publicationHistory(fx.store);
    expect(h.map((e) => [e.sequence, e.source?.commit, e.signed, e.current])).toEqual([
      [1, first.source.commit, true, false],
      [2, c2, true, true],
    ]);
    expect(h[1]!.changes).toEqual([
      {
        environment: 'production',
        status: 'changed',
        changes: [{ model: 'pii-scrubber', before: '1.4.1', after: '1.4.2' }],
      },
    ]);
    const cmd = await cli(['history', '--store', fx.storeUrl]);
    expect(cmd.status, cmd.stderr).toBe(0);
    expect(cmd.stdout).toMatch(
      new RegExp(`^2 +\\S+ +${c2.slice(0, 12)} +current +production: pii-scrubber 1.4.1 -> 1.4.2$`, 'm'),
    );
    expect(cmd.stdout).toMatch(new RegExp(`^1 +\\S+ +${first.source.commit.slice(0, 12)} +signed`, 'm'));
  });
});
