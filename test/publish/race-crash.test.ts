// Publishers as real processes: two racing publishers, and a publisher killed at every step.
import { describe, expect, it } from 'vitest';
import { PUBLISH_STEPS, listManifestSequences, publishRegistry } from '../../src/publish/index.ts';
import { makeFixture, missingBlobs, publisher, verified } from './helpers.ts';
import { tempDir } from '../helpers.ts';

describe.concurrent.each(['folder', 's3'] as const)('%s store', (kind) => {
  it('two publishers racing as processes get distinct sequences and the later commit wins', {
    timeout: 120_000,
  }, async () => {
    const fx = await makeFixture(kind, 'race');
    const c0 = fx.head();
    await publishRegistry({
      repo: fx.repo,
      store: fx.store,
      keys: fx.keys,
      source: { repository: 'acme/models', commit: c0 },
    });
    // Both interleavings that matter show up across rounds; radosgw gets one round (the test machine is small).
    for (const round of kind === 'folder' ? [1, 2] : [1]) {
      const older = fx.commitEdit(
        'environments/production.yaml',
        round === 1 ? 'pii-scrubber: 1.4.1' : 'pii-scrubber: 1.4.2',
        round === 1 ? 'pii-scrubber: 1.4.2' : 'pii-scrubber: 1.4.1',
      );
      const newer = fx.commitEdit(
        'environments/staging.yaml',
        round === 1 ? 'structured-extractor: 1.0.0' : 'structured-extractor: 1.1.0',
        round === 1 ? 'structured-extractor: 1.1.0' : 'structured-extractor: 1.0.0',
      );
      const before = new Set(await listManifestSequences(fx.store));
      const [a, b] = await Promise.all([publisher(fx, older), publisher(fx, newer)]);
      expect(a.status, a.stderr).toBe(0);
      expect(b.status, b.stderr).toBe(0);
      const ra = JSON.parse(a.stdout);
      const rb = JSON.parse(b.stdout);
      const claimedA = ra.claimedSequence ?? ra.sequence;
      const claimedB = rb.claimedSequence ?? rb.sequence;
      expect(rb.status).toBe('published'); // the newer commit is never superseded by the older
      expect(['published', 'superseded']).toContain(ra.status);
      expect(claimedA).not.toBe(claimedB);
      const after = await listManifestSequences(fx.store);
      for (const s of [claimedA, claimedB]) {
        expect(after).toContain(s);
        expect(before.has(s)).toBe(false);
      }
      const v = await verified(fx);
      expect(v.manifest.source.commit).toBe(newer); // no lost update: the final manifest has both changes
      expect(v.manifest.sequence).toBe(rb.sequence);
      expect(v.manifest.sequence).toBe(Math.max(...after.filter((s) => s === rb.sequence || s <= rb.sequence)));
      expect(await missingBlobs(fx.store, v.manifest)).toEqual([]);
    }
  });

  it('a publisher killed at any step never exposes a broken manifest, and the next publish recovers', {
    timeout: 240_000,
  }, async () => {
    const fx = await makeFixture(kind, 'crash');
    await publishRegistry({
      repo: fx.repo,
      store: fx.store,
      keys: fx.keys,
      source: { repository: 'acme/models', commit: fx.head() },
    });
    const device = tempDir('mg-crash-device-'); // a device that keeps its trusted state across all crashes
    let on = '1.4.1';
    // Every step on the folder store; on radosgw the steps whose writes differ there (exclusive create, snapshot claim, pointer).
    const steps = kind === 'folder' ? PUBLISH_STEPS : (['after-claim', 'snapshot-claimed', 'after-timestamp'] as const);
    for (const step of steps) {
      const prev = await verified(fx, undefined, device);
      const next = on === '1.4.1' ? '1.4.2' : '1.4.1';
      const commit = fx.commitEdit(
        'environments/production.yaml',
        `pii-scrubber: ${on}`,
        `pii-scrubber: ${next}`,
        `crash at ${step}`,
      );
      on = next;
      const crashed = await publisher(fx, commit, { MG_PUBLISH_CRASH_AT: step });
      expect(crashed.stderr).toContain(`MG_PUBLISH_CRASH_AT: exiting at ${step}`);
      expect(crashed.status).toBe(97);
      // A device that trusted the previous publication, and a fresh one (pinned root only).
      const v = await verified(fx, undefined, device);
      expect([prev.manifest.source.commit, commit], `after a crash at ${step}`).toContain(v.manifest.source.commit);
      expect(await missingBlobs(fx.store, v.manifest)).toEqual([]);
      const slice = await verified(fx, 'environments/production.json');
      expect([prev.manifest.source.commit, commit], `slice after a crash at ${step}`).toContain(
        slice.manifest.source.commit,
      );
      expect(await missingBlobs(fx.store, slice.manifest)).toEqual([]);
      // The next run (as the workflow's single publisher) completes the change.
      const r = await publishRegistry({
        repo: fx.repo,
        store: fx.store,
        keys: fx.keys,
        recoverOrphans: true,
        source: { repository: 'acme/models', commit },
      });
      expect(['published', 'unchanged']).toContain(r.status);
      const done = await verified(fx, undefined, device);
      expect(done.manifest.source.commit).toBe(commit);
      expect(done.manifest.environments.production!.models['pii-scrubber']!.version).toBe(next);
    }
  });
});
