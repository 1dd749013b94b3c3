// The device's S3 BlobSource against the real radosgw (test/setup/s3.ts): its client comes from the
// store's s3-config (same endpoint/credential handling as S3Store), its read semantics are its own.
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Source } from '../../src/sync/s3-source.ts';
import { readAll } from '../../src/sync/source.ts';
import { adminClient, createBucket, removeBucket, s3Endpoint } from '../helpers/s3.ts';

let bucket: string;
beforeAll(async () => {
  bucket = await createBucket('sync-src');
});
afterAll(async () => {
  if (bucket) await removeBucket(bucket);
});

describe('S3Source', () => {
  it('reads ranges, refuses a range of a changed object (If-Match), and polls with If-None-Match', async () => {
    const bytes = Buffer.from('0123456789abcdef');
    await adminClient().send(new PutObjectCommand({ Bucket: bucket, Key: 'dev/blobs/x', Body: bytes }));
    const source = S3Source.fromUrl(`s3://${bucket}/dev/`, { ...process.env, MG_S3_ENDPOINT: s3Endpoint() });
    try {
      expect(source.description).toBe(`s3://${bucket}/dev/`);
      const meta = await source.head('blobs/x');
      expect(meta.size).toBe(16);
      const part = await source.get('blobs/x', { range: [4, 10], ifRange: meta.etag! });
      expect(part).toMatchObject({
        status: 206,
        size: 16,
        contentRange: { start: 4, end: 10, total: 16 },
        etag: meta.etag,
      });
      expect((await readAll(part.body, 100, 'x')).toString()).toBe('456789');
      await expect(source.get('blobs/x', { range: [0, 4], ifRange: '"not-the-etag"' })).rejects.toMatchObject({
        code: 'changed',
      });
      const whole = await source.getConditional('blobs/x', undefined);
      expect(whole).toMatchObject({ notModified: false, etag: meta.etag });
      expect(await source.getConditional('blobs/x', meta.etag)).toEqual({ notModified: true, etag: meta.etag });
      await expect(source.head('blobs/missing')).rejects.toMatchObject({ name: 'NotFoundError' });
    } finally {
      source.close();
    }
  });
});
