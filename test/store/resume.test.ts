// An interrupted push (child process SIGKILLed mid-upload) resumes without re-sending finished parts.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { blobKey } from '../../src/store/keys.ts';
import { openStore } from '../../src/store/open.ts';
import { pushFolder } from '../../src/store/push.ts';
import type { PushProgress } from '../../src/store/push.ts';
import { loadUploadState, uploadStatePath } from '../../src/store/upload-state.ts';
import { verifyArtifacts } from '../../src/store/verify.ts';
import { randomFile, tempDir } from '../helpers/files.ts';
import { createBucket, removeBucket } from '../helpers/s3.ts';

const MiB = 1024 * 1024;
const PART = 5 * MiB;
const child = join(import.meta.dirname, '..', 'fixtures', 'push-child.ts');
let bucket: string;
beforeAll(async () => {
  bucket = await createBucket('resume');
});
afterAll(async () => {
  if (bucket) await removeBucket(bucket);
});

/** Run the child until it pauses after `parts` parts, then SIGKILL it. Returns what it printed. */
async function pushAndKill(url: string, dir: string, stateDir: string, parts: number): Promise<string[]> {
  const proc = spawn(process.execPath, [child, url, dir, stateDir], {
    env: { ...process.env, PAUSE_AFTER_PARTS: String(parts) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  const exited = new Promise<NodeJS.Signals | null>((resolve) => proc.on('exit', (_code, signal) => resolve(signal)));
  for await (const line of createInterface({ input: proc.stdout })) {
    lines.push(line);
    if (line === 'PAUSED') proc.kill('SIGKILL');
  }
  expect(await exited).toBe('SIGKILL');
  return lines;
}

it('resumes a killed push: finished blobs and finished parts are not sent again', async () => {
  const work = await tempDir('resume');
  const dir = join(work, 'model');
  const stateDir = join(work, 'state');
  await mkdir(dir);
  const small = await randomFile(join(dir, 'a-config.json'), 3000); // pushed first (sorted), finishes before the kill
  const big = await randomFile(join(dir, 'b-weights.bin'), 8 * PART + 777); // 9 parts
  const bigSha = createHash('sha256').update(big).digest('hex');
  const url = `s3://${bucket}/m`;

  const printed = await pushAndKill(url, dir, stateDir, 3);
  expect(printed).toEqual(['DONE a-config.json', 'PART 1', 'PART 2', 'PART 3', 'PAUSED']);
  const saved = await loadUploadState(uploadStatePath(stateDir, bigSha));
  expect(Object.keys(saved!.parts).sort()).toEqual(['1', '2', '3']);

  const events: PushProgress[] = [];
  const results = await pushFolder({
    dir,
    store: openStore(url, { s3: { partSize: PART, stateDir } }),
    stateDir,
    onProgress: (p) => events.push(p),
  });
  const [a, b] = results;
  expect(a).toMatchObject({ path: 'a-config.json', deduplicated: true, sentBytes: 0, hashCached: true });
  expect(b).toMatchObject({
    path: 'b-weights.bin',
    deduplicated: false,
    hashCached: true,
    resumedParts: 3,
    resumedBytes: 3 * PART,
    sentBytes: big.length - 3 * PART,
  });
  const sentParts = events.flatMap((e) => (e.kind === 'part' ? [e.partNumber] : [])).sort((x, y) => x - y);
  expect(sentParts).toEqual([4, 5, 6, 7, 8, 9]);
  expect(events).toContainEqual(expect.objectContaining({ kind: 'resumed', parts: 3, bytes: 3 * PART }));

  const store = openStore(url);
  const checks = await verifyArtifacts(
    store,
    [
      { path: 'a-config.json', sha256: a!.sha256, size: small.length },
      { path: 'b-weights.bin', sha256: bigSha, size: big.length },
    ],
    { rehash: true },
  );
  expect(checks.map((c) => c.status)).toEqual(['ok', 'ok']);
  expect(await store.exists(blobKey(bigSha))).toBe(true);
  expect(await readdir(join(stateDir, 'uploads'))).toEqual([]);
});

it('starts over when the saved multipart upload no longer exists on the server', async () => {
  const work = await tempDir('resume-gone');
  const dir = join(work, 'model');
  const stateDir = join(work, 'state');
  await mkdir(dir);
  const big = await randomFile(join(dir, 'w.bin'), 2 * PART + 1);
  const url = `s3://${bucket}/gone`;
  await pushAndKill(url, dir, stateDir, 1);
  const sha = createHash('sha256').update(big).digest('hex');
  const state = (await loadUploadState(uploadStatePath(stateDir, sha)))!;
  const { S3Client, AbortMultipartUploadCommand } = await import('@aws-sdk/client-s3');
  const { s3ClientConfig } = await import('../../src/store/s3-store.ts');
  await new S3Client(s3ClientConfig()).send(
    new AbortMultipartUploadCommand({ Bucket: bucket, Key: `gone/${blobKey(sha)}`, UploadId: state.uploadId }),
  );

  const [r] = await pushFolder({ dir, store: openStore(url, { s3: { partSize: PART, stateDir } }), stateDir });
  expect(r).toMatchObject({ resumedParts: 0, sentBytes: big.length, deduplicated: false });
  expect(
    (await verifyArtifacts(openStore(url), [{ path: 'w.bin', sha256: sha, size: big.length }], { rehash: true }))[0]!
      .status,
  ).toBe('ok');
});
