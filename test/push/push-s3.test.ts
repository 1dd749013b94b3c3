// push and verify against a real S3 server (radosgw from the vitest globalSetup), through the real CLI.
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoWeights } from '../../scripts/demo-weights.ts';
import { blobKey, openStore, pushFolder } from '../../src/store/index.ts';
import { tempDir } from '../helpers.ts';
import { adminClient, createBucket, removeBucket } from '../helpers/s3.ts';
import { CARD_FLAGS, fixture } from './fixture.ts';

let bucket: string;
beforeAll(async () => {
  bucket = await createBucket('push');
});
afterAll(async () => {
  if (bucket) await removeBucket(bucket);
});

async function keys(prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of openStore(`s3://${bucket}/${prefix}`).list('')) out.push(o.key);
  return out;
}

const CARD = 'models/intent-classifier/versions/2.2.0.yaml';
const push = ['push', '--model', 'intent-classifier', '--version', '2.2.0'];

describe('push to S3', () => {
  it('--dry-run sends nothing; push writes a valid card; a re-push is all deduplicated and leaves the card as it was', async () => {
    const f = fixture();
    const store = `s3://${bucket}/p1`;
    const dir = f.dir('intent-classifier', '2.1.0');
    const dry = await f.run([...push, dir, ...CARD_FLAGS, '--store', store, '--dry-run', '--json']);
    expect(dry.status, dry.stderr).toBe(0);
    const dj = JSON.parse(dry.stdout);
    expect(dj).toMatchObject({
      dryRun: true,
      store,
      card: { status: 'created', written: false },
      totals: { sentBytes: 0, toSendBytes: 37894 },
    });
    expect(await keys('p1')).toEqual([]);

    const r = await f.run([...push, dir, ...CARD_FLAGS, '--store', store, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.totals).toMatchObject({ files: 3, sentBytes: 37894, deduplicatedBytes: 0 });
    const card = readFileSync(join(f.repo, CARD), 'utf8');
    expect((await f.run(['validate'])).status).toBe(0);
    expect((await keys('p1')).filter((k) => k.startsWith('blobs/'))).toHaveLength(3);

    const again = await f.run([...push, dir, '--store', store, '--json']);
    const aj = JSON.parse(again.stdout);
    expect(aj.totals).toMatchObject({ sentBytes: 0, deduplicatedBytes: 37894 });
    expect(aj.files.map((x: { deduplicated: boolean }) => x.deduplicated)).toEqual([true, true, true]);
    expect(aj.card.status).toBe('unchanged');
    expect(readFileSync(join(f.repo, CARD), 'utf8')).toBe(card);

    // The store named by the environment variable is the default.
    const env = await f.run(['verify', '--model', 'intent-classifier', '--json'], { MODEL_GITOPS_STORE: store });
    const ej = JSON.parse(env.stdout);
    expect(ej.store).toBe(store);
    // 2.2.0's three artifacts are there; the earlier versions' weights were never pushed to this prefix.
    expect(ej.problems.filter((p: { version: string }) => p.version === '2.2.0')).toEqual([]);
    expect(ej.problems.filter((p: { status: string }) => p.status === 'missing').length).toBeGreaterThan(0);
  });
});

describe('verify against S3', () => {
  const prefix = 'v1';
  let f: ReturnType<typeof fixture>;
  beforeAll(async () => {
    f = fixture();
    const store = openStore(`s3://${bucket}/${prefix}`, { s3: { stateDir: tempDir('mg-s3state-') } });
    for (const id of demoWeights().keys()) {
      const [model, version] = id.split('/') as [string, string];
      await pushFolder({ dir: f.dir(model, version), store, stateDir: tempDir('mg-cache-') });
    }
  });
  const verify = (...extra: string[]) => f.run(['verify', '--store', `s3://${bucket}/${prefix}`, ...extra]);

  it('passes when every artifact of every card is there', async () => {
    const plain = await verify();
    const rehash = await verify('--rehash');
    const json = await verify('--json', '--model', 'pii-scrubber');
    expect(plain.status, plain.stderr).toBe(0);
    expect(plain.stdout).toMatch(/^ok: 24 artifacts of 8 cards \(\d+ distinct blobs\) in s3:\/\//);
    expect(rehash.status).toBe(0);
    expect(rehash.stdout).toContain('bytes re-hashed');
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, cards: 2, artifacts: 6, problems: [], skippedCards: [] });
  });

  it('reports a missing blob, a wrong size, and (with --rehash) altered bytes; exit 1', async () => {
    const s3 = adminClient();
    const sha = {
      missing: '6a9878cc63992f2091bbe7a916fcf3f2018dc9e5c89ecba7ff8bc7a02517cb82', // intent-classifier 1.0.0 model.safetensors
      size: 'aca85ab570ce16adc303df145d41a2d3e947aa0b1c1643d887646d471076c7cb', // pii-scrubber 1.4.1 model.safetensors (27528 bytes)
      bytes: 'd741127fd2a12d8f20ffd915cddd8471772f68509d2906d8ee84c38b8f5c6c1c', // structured-extractor 1.1.0 model.safetensors
    };
    const head = await openStore(`s3://${bucket}/${prefix}`).head(blobKey(sha.bytes));
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: `${prefix}/${blobKey(sha.missing)}` }));
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: `${prefix}/${blobKey(sha.size)}`,
        Body: Buffer.alloc(10),
        Metadata: { sha256: sha.size },
      }),
    );
    // Same size, same sha256 metadata, different bytes: only a re-hash can tell.
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: `${prefix}/${blobKey(sha.bytes)}`,
        Body: Buffer.alloc(head!.size, 7),
        Metadata: { sha256: sha.bytes },
      }),
    );

    const plain = await verify();
    const rehash = await verify('--rehash', '--json');
    expect(plain.status).toBe(1);
    expect(plain.stdout).toMatch(
      /^intent-classifier +1\.0\.0 +model\.safetensors +missing +s3:\/\/.* has no "blobs\/sha256\/6a9878cc/m,
    );
    expect(plain.stdout).toMatch(
      /^pii-scrubber +1\.4\.1 +model\.safetensors +wrong-size +store has 10 bytes, expected 27528$/m,
    );
    expect(plain.stdout).not.toContain('wrong-bytes');
    expect(plain.stdout).toContain('2 problems: 24 artifacts of 8 cards');
    expect(rehash.status).toBe(1);
    const problems = JSON.parse(rehash.stdout).problems as { model: string; version: string; status: string }[];
    expect(problems.map((p) => `${p.model}@${p.version} ${p.status}`)).toEqual([
      'intent-classifier@1.0.0 missing',
      'pii-scrubber@1.4.1 wrong-size',
      'structured-extractor@1.1.0 wrong-bytes',
    ]);
  });
});
