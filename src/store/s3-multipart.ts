// Multipart upload of one file to S3 with resume: the parts sent so far are recorded in a state file
// (upload-state.ts), so an interrupted push picks up where it stopped instead of sending everything again.
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  ListPartsCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { UserError } from '../lib/errors.ts';
import { httpStatus } from './retry.ts';
import { changedWhilePushing, hashedSha256 } from './types.ts';
import type { PutFileOptions, PutFileResult } from './types.ts';
import { loadUploadState, uploadStatePath, UploadStateWriter } from './upload-state.ts';
import type { UploadState } from './upload-state.ts';

const MiB = 1024 * 1024;
/** S3 limits: parts are 5 MiB..5 GiB (the last may be smaller), at most 10 000 of them. */
export const MIN_PART = 5 * MiB;
const MAX_PARTS = 10_000;

/** What a multipart upload needs from the store: its client and settings, and its S3 call wrapper (retries, clear errors). */
export interface MultipartStore {
  readonly client: S3Client;
  readonly bucket: string;
  readonly partSize: number;
  readonly concurrency: number;
  readonly stateDir: string;
  call<T>(op: string, key: string | undefined, fn: () => Promise<T>, acceptStatus?: number[]): Promise<T>;
  exists(key: string): Promise<boolean>;
}

/**
 * Multipart upload straight to the final key. The file is read once, in order: every part is
 * hashed, parts the server already holds (from an interrupted run) are skipped, the rest are sent
 * with at most `concurrency` in flight. The upload is completed only if the bytes hash to the
 * expected sha256, so a file modified mid-push never lands under the wrong content key.
 */
export async function putMultipart(
  store: MultipartStore,
  key: string,
  Key: string,
  file: string,
  fh: FileHandle,
  o: PutFileOptions,
): Promise<PutFileResult> {
  const target = `s3://${store.bucket}/${Key}`;
  const writer = new UploadStateWriter(uploadStatePath(store.stateDir, o.sha256));
  let state = await resumableState(store, key, Key, target, writer.path, o.size);
  if (!state) {
    const partSize = Math.max(store.partSize, Math.ceil(o.size / MAX_PARTS / MiB) * MiB);
    const created = await store.call('create multipart upload', key, () =>
      store.client.send(
        new CreateMultipartUploadCommand({
          Bucket: store.bucket,
          Key,
          ContentType: 'application/octet-stream',
          Metadata: { sha256: o.sha256 },
        }),
      ),
    );
    state = { version: 1, target, uploadId: created.UploadId!, size: o.size, partSize, parts: {} };
    await writer.save(state);
  }
  const st = state;
  const partCount = Math.ceil(o.size / st.partSize);
  const resumedParts = Object.keys(st.parts).length;
  const resumedBytes = Object.values(st.parts).reduce((a, p) => a + p.size, 0);
  if (resumedParts > 0) o.onProgress?.({ kind: 'resumed', key, parts: resumedParts, bytes: resumedBytes });

  const hash = o.hashedAs ? undefined : createHash('sha256'); // hashedAs: hashed just now, checked by identity
  const inflight = new Set<Promise<void>>();
  let failure: unknown;
  let sentBytes = 0;
  for (let n = 1; n <= partCount && failure === undefined; n++) {
    const start = (n - 1) * st.partSize;
    const body = await readExactly(fh, file, start, Math.min(st.partSize, o.size - start));
    hash?.update(body);
    if (st.parts[n]) continue;
    while (inflight.size >= store.concurrency) await Promise.race(inflight);
    if (failure !== undefined) break;
    const p: Promise<void> = store
      .call('upload part', key, () =>
        store.client.send(
          new UploadPartCommand({
            Bucket: store.bucket,
            Key,
            UploadId: st.uploadId,
            PartNumber: n,
            Body: body,
            ContentLength: body.length,
          }),
        ),
      )
      .then(async (r) => {
        st.parts[n] = { etag: r.ETag!, size: body.length };
        sentBytes += body.length;
        await writer.save(st);
        o.onProgress?.({ kind: 'part', key, partNumber: n, bytes: body.length, sentBytes, totalBytes: o.size });
      })
      .catch((e: unknown) => {
        failure ??= e; // an upload or a state save failed: stop sending, report after the in-flight parts settle
      })
      .finally(() => inflight.delete(p));
    inflight.add(p);
  }
  await Promise.all(inflight);
  if (failure !== undefined) throw failure; // state file kept: the next push resumes
  const actual = hash ? hash.digest('hex') : await hashedSha256(file, o);
  const abort = async () => {
    await store
      .call('abort multipart upload', key, () =>
        store.client.send(
          new AbortMultipartUploadCommand({
            Bucket: store.bucket,
            Key,
            UploadId: st.uploadId,
          }),
        ),
      )
      .catch(() => {});
    await writer.remove();
  };
  if (actual !== o.sha256) {
    await abort();
    throw changedWhilePushing(file, o.sha256, actual);
  }
  // Multipart completion cannot be made exclusive on radosgw (If-None-Match unsupported there), so
  // look once more: if another pusher stored this blob meanwhile, keep theirs.
  if (await store.exists(key)) {
    await abort();
    return { sentBytes, resumedParts, resumedBytes, existed: true };
  }
  const Parts = Object.entries(st.parts)
    .map(([n, p]) => ({ PartNumber: Number(n), ETag: p.etag }))
    .sort((a, b) => a.PartNumber - b.PartNumber);
  try {
    await store.call(
      'complete multipart upload',
      key,
      () =>
        store.client.send(
          new CompleteMultipartUploadCommand({
            Bucket: store.bucket,
            Key,
            UploadId: st.uploadId,
            MultipartUpload: { Parts },
          }),
        ),
      [404],
    );
  } catch (e) {
    // A retried completion whose first attempt succeeded finds the upload gone: the HEAD check decides.
    if (httpStatus(e) !== 404) throw e;
  }
  await writer.remove();
  return { sentBytes, resumedParts, resumedBytes, existed: false };
}

/**
 * The saved state for this blob, reconciled with the server (ListParts): only parts the server
 * still holds with the expected size and ETag count as done. Undefined when there is nothing to resume.
 */
async function resumableState(
  store: MultipartStore,
  key: string,
  Key: string,
  target: string,
  path: string,
  size: number,
): Promise<UploadState | undefined> {
  const saved = await loadUploadState(path);
  if (!saved || saved.target !== target || saved.size !== size) return undefined;
  const server = new Map<number, { etag: string; size: number }>();
  try {
    let PartNumberMarker: string | undefined;
    do {
      const r = await store.call(
        'list parts',
        key,
        () =>
          store.client.send(
            new ListPartsCommand({
              Bucket: store.bucket,
              Key,
              UploadId: saved.uploadId,
              PartNumberMarker,
            }),
          ),
        [404],
      );
      for (const p of r.Parts ?? [])
        if (p.PartNumber && p.ETag) server.set(p.PartNumber, { etag: p.ETag, size: p.Size ?? -1 });
      PartNumberMarker = r.IsTruncated ? r.NextPartNumberMarker : undefined;
    } while (PartNumberMarker);
  } catch (e) {
    if (httpStatus(e) === 404) return undefined; // NoSuchUpload: aborted or expired, start over
    throw e;
  }
  const parts: UploadState['parts'] = {};
  const partCount = Math.ceil(size / saved.partSize);
  for (const [n, p] of server) {
    const expected = n < partCount ? saved.partSize : size - (partCount - 1) * saved.partSize;
    const local = saved.parts[n];
    if (p.size === expected && (!local || local.etag === p.etag)) parts[n] = p;
  }
  return { ...saved, parts };
}

/** Read exactly `length` bytes at `position`; a short read means the file shrank under us. */
export async function readExactly(fh: FileHandle, file: string, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, length - done, position + done);
    if (bytesRead === 0)
      throw new UserError(
        `${file} is shorter than expected (changed while being pushed?): ended at byte ${position + done}, expected ${position + length}`,
      );
    done += bytesRead;
  }
  return buf;
}
