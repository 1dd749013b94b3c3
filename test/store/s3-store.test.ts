// Against a real radosgw (see test/setup/s3.ts). No mocked client anywhere.
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../src/lib/errors.ts';
import { blobKey } from '../../src/store/keys.ts';
import { openStore } from '../../src/store/open.ts';
import { S3Store } from '../../src/store/s3-store.ts';
import { pushFolder } from '../../src/store/push.ts';
import { verifyArtifacts } from '../../src/store/verify.ts';
import type { PutProgress } from '../../src/store/types.ts';
import { randomFile, tempDir } from '../helpers/files.ts';
import { adminClient, createBucket, removeBucket, s3Endpoint } from '../helpers/s3.ts';
import { storeContract } from './contract.ts';

const MiB = 1024 * 1024;
const sha = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

let bucket: string;
beforeAll(async () => {
  bucket = await createBucket('store');
});
afterAll(async () => {
  if (bucket) await removeBucket(bucket);
});

storeContract('s3', async () => {
  const store = openStore(`s3://${bucket}/contract`, { s3: { stateDir: await tempDir('s3-state') } });
  return {
    store,
    // Rewrite the object behind the library's back, keeping size and sha256 metadata: only the bytes differ.
    tamper: async (key, data) => {
      const head = await store.head(key);
      await adminClient().send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: `contract/${key}`,
          Body: data,
          Metadata: { sha256: head!.sha256! },
        }),
      );
    },
  };
});

describe('s3 store specifics', () => {
  let work: string;
  beforeAll(async () => {
    work = await tempDir('s3');
  });

  it('uploads a file larger than the part size as a multipart upload, then verifies it', async () => {
    const file = join(work, 'big.bin');
    const data = await randomFile(file, 12 * MiB + 123);
    const store = new S3Store(`s3://${bucket}/mp`, {
      partSize: 5 * MiB,
      concurrency: 2,
      stateDir: join(work, 'state-mp'),
    });
    const events: PutProgress[] = [];
    const r = await store.putFile(blobKey(sha(data)), file, {
      sha256: sha(data),
      size: data.length,
      onProgress: (p) => events.push(p),
    });
    expect(r).toEqual({ sentBytes: data.length, resumedParts: 0, resumedBytes: 0, existed: false });
    expect(
      events
        .filter((e) => e.kind === 'part')
        .map((e) => (e as { partNumber: number }).partNumber)
        .sort(),
    ).toEqual([1, 2, 3]);
    expect(await store.head(blobKey(sha(data)))).toEqual({
      key: blobKey(sha(data)),
      size: data.length,
      sha256: sha(data),
      lastModified: expect.any(Date),
    });
    const back = await store.getBytes(blobKey(sha(data)));
    expect(back.equals(data)).toBe(true);
    expect(await readdir(join(work, 'state-mp', 'uploads'))).toEqual([]); // state removed once complete
    // a second put of the same blob does not replace it
    const again = await store.putFile(blobKey(sha(data)), file, { sha256: sha(data), size: data.length });
    expect(again.existed).toBe(true);
  });

  it('refuses to complete a blob whose file changed after hashing', async () => {
    const file = join(work, 'changing.bin');
    const data = await randomFile(file, 11 * MiB);
    const store = new S3Store(`s3://${bucket}/chg`, { partSize: 5 * MiB, stateDir: join(work, 'state-chg') });
    // Same size, different bytes after the hash was taken: only hashing what is sent can tell.
    await writeFile(file, Buffer.concat([data.subarray(0, 6 * MiB), Buffer.alloc(5 * MiB)]));
    await expect(store.putFile(blobKey(sha(data)), file, { sha256: sha(data), size: data.length })).rejects.toThrow(
      /changed while it was being pushed/,
    );
    expect(await store.exists(blobKey(sha(data)))).toBe(false);
  });

  it('a blob whose sha256 metadata is wrong is reported, and push refuses to treat it as deduplicated', async () => {
    const dir = join(work, 'meta');
    await mkdir(dir, { recursive: true });
    const data = await randomFile(join(dir, 'w.bin'), 100);
    await adminClient().send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: `meta/${blobKey(sha(data))}`,
        Body: data,
        Metadata: { sha256: sha('other') },
      }),
    );
    const store = openStore(`s3://${bucket}/meta`);
    const [check] = await verifyArtifacts(store, [{ path: 'w.bin', sha256: sha(data), size: data.length }]);
    expect(check).toMatchObject({
      status: 'wrong-sha256-metadata',
      detail: `store metadata says sha256 ${sha('other')}`,
    });
    await expect(pushFolder({ dir, store, stateDir: join(work, 'state-meta') })).rejects.toThrow(
      /exists but does not match w.bin/,
    );
    // and a blob written without the metadata at all
    const bare = Buffer.from('no metadata here');
    await adminClient().send(new PutObjectCommand({ Bucket: bucket, Key: `meta/${blobKey(sha(bare))}`, Body: bare }));
    const [bareCheck] = await verifyArtifacts(store, [{ path: 'bare', sha256: sha(bare), size: bare.length }]);
    expect(bareCheck).toMatchObject({ status: 'wrong-sha256-metadata', detail: 'store object has no sha256 metadata' });
  });

  it('wrong credentials: a clear error naming the bucket and what to check', async () => {
    const store = openStore(`s3://${bucket}/x`, {
      s3: { credentials: { accessKeyId: 'test', secretAccessKey: 'wrong-secret' }, retry: { attempts: 1 } },
    });
    const e = await store.head('manifest.json').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UserError);
    expect((e as Error).message).toMatch(
      new RegExp(`S3 refused access to bucket "${bucket}" .*SignatureDoesNotMatch.*HTTP 403.*AWS_ACCESS_KEY_ID`),
    );
    const e2 = await openStore(`s3://${bucket}/x`, {
      s3: { credentials: { accessKeyId: 'NOSUCHKEY', secretAccessKey: 'x' } },
    })
      .putObject('a', 'b')
      .catch((x: unknown) => x);
    expect((e2 as Error).message).toMatch(/S3 refused access .*InvalidAccessKeyId/);
  });

  it('missing bucket: a clear error naming it', async () => {
    const store = openStore('s3://mg-no-such-bucket-here/models');
    await expect(store.exists('manifest.json')).rejects.toThrow(
      /S3 bucket "mg-no-such-bucket-here" does not exist at http:\/\/127\.0\.0\.1:\d+/,
    );
    const dir = join(work, 'nb');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'f'), 'x');
    await expect(pushFolder({ dir, store, stateDir: join(work, 'state-nb') })).rejects.toThrow(
      /bucket "mg-no-such-bucket-here" does not exist/,
    );
  });

  it('unreachable endpoint: retried with backoff, then a clear error naming the endpoint', async () => {
    const retries: number[] = [];
    const store = openStore(`s3://${bucket}/x`, {
      s3: {
        endpoint: 'http://127.0.0.1:9',
        retry: { attempts: 3, baseDelayMs: 5, onRetry: (_e, a) => retries.push(a) },
      },
    });
    await expect(store.head('manifest.json')).rejects.toThrow(
      /cannot reach S3 at http:\/\/127\.0\.0\.1:9 .*ECONNREFUSED/,
    );
    expect(retries).toEqual([1, 2]);
  });

  it('uses AWS_ENDPOINT_URL_S3 from the environment (path-style, us-east-1)', () => {
    const store = new S3Store(`s3://${bucket}`);
    expect(store.url).toBe(`s3://${bucket}`);
    expect(s3Endpoint()).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });
});
