// Per-file S3 fixture: the endpoint and credentials come from the environment (set by
// test/setup/s3.ts or by the caller); each test file makes its own bucket and empties it after.
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { s3ClientConfig } from '../../src/store/s3-store.ts';

export function s3Endpoint(): string {
  const endpoint = process.env.S3_ENDPOINT ?? process.env.AWS_ENDPOINT_URL_S3;
  if (!endpoint) throw new Error(process.env.S3_UNAVAILABLE ?? 'no S3 server: set S3_ENDPOINT (see test/setup/s3.ts)');
  return endpoint;
}

export function adminClient(): S3Client {
  return new S3Client(s3ClientConfig({ endpoint: s3Endpoint() }));
}

export async function createBucket(label: string): Promise<string> {
  const bucket = `mg-${label}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const c = adminClient();
  // The first CreateBucket on a fresh radosgw takes seconds while it creates its pools.
  await c.send(new CreateBucketCommand({ Bucket: bucket }));
  return bucket;
}

export async function removeBucket(bucket: string): Promise<void> {
  const c = adminClient();
  let token: string | undefined;
  do {
    const r = await c.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    for (const o of r.Contents ?? []) await c.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.Key }));
    token = r.IsTruncated ? r.NextContinuationToken : undefined;
  } while (token);
  await c.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => {}); // unfinished multipart uploads may keep it
}
