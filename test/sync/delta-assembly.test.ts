// The delta's one-pass assembly and the range hashing it relies on: every byte hashed in file order
// whatever the chunking, local tensors copied, fetched ones read back only after they land, and
// damaged or short local bytes, or a failing range, never produce a file that passes as verified.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, readlinkSync, rmSync, truncateSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RangeHasher, sha256Hex } from '../../src/lib/hash.ts';
import { assembleDelta, DeltaUnusable, planDelta, type LocalTensors } from '../../src/sync/delta.ts';
import { NetworkError } from '../../src/sync/errors.ts';
import type { FetchContext } from '../../src/sync/fetch.ts';
import { HttpSource } from '../../src/sync/http-source.ts';
import type { BlobSource } from '../../src/sync/source.ts';
import { proveFile, RangeProver } from '../../src/sync/prove.ts';
import { indexSafetensorsBytes } from '../../src/formats/safetensors.ts';
import { validIndex } from '../../src/sync/index-check.ts';
import { blobKey } from '../../src/store/keys.ts';
import { tempDir } from '../helpers.ts';
import { FAST_RETRY, model, noise, StoreServer, TestStore } from './helpers.ts';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0)) await f();
});

/** Files under `dir` this process holds open (Linux: /proc/self/fd). */
function openFilesUnder(dir: string): string[] {
  return readdirSync('/proc/self/fd')
    .flatMap((fd) => {
      try {
        return [readlinkSync(`/proc/self/fd/${fd}`)];
      } catch {
        return [];
      }
    })
    .filter((p) => p.startsWith(dir));
}

/** Feeds `bytes` in random-sized chunks (1 byte up to `max`), seeded. */
function feedChunked(bytes: Buffer, seed: number, max: number, feed: (c: Buffer, p: number) => void): void {
  let x = seed;
  for (let pos = 0; pos < bytes.length; ) {
    x = (x * 1103515245 + 12345) >>> 0;
    const n = Math.min(bytes.length - pos, 1 + (x % max));
    feed(bytes.subarray(pos, pos + n), pos);
    pos += n;
  }
}

describe('RangeHasher and RangeProver', () => {
  const bytes = noise(7, 10_000);
  const ranges = [
    { start: 0, end: 1 },
    { start: 1, end: 1 },
    { start: 5, end: 4_000 },
    { start: 4_000, end: 4_001 },
    { start: 6_000, end: 10_000 },
  ];
  const truth = ranges.map((r) => sha256Hex(bytes.subarray(r.start, r.end)));

  it('gives every range its sha256 however the stream is chunked', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const h = new RangeHasher(ranges);
      feedChunked(bytes, seed, seed % 2 ? 7 : 3_000, (c, p) => h.feed(c, p));
      expect(h.digests(), `seed ${seed}`).toEqual(truth);
    }
  });

  it('leaves a range whose bytes were not all fed without a digest', () => {
    const h = new RangeHasher(ranges);
    h.feed(bytes.subarray(0, 3_000), 0);
    h.feed(bytes.subarray(3_500, 10_000), 3_500); // a gap inside range 2
    expect(h.digests()).toEqual([truth[0], truth[1], undefined, truth[3], truth[4]]);
    const short = new RangeHasher(ranges);
    short.feed(bytes.subarray(0, 9_000), 0); // the stream ends inside the last range
    expect(short.digests()[4]).toBeUndefined();
  });

  it('refuses overlapping or unsorted ranges', () => {
    expect(
      () =>
        new RangeHasher([
          { start: 0, end: 10 },
          { start: 5, end: 20 },
        ]),
    ).toThrow(/sorted and must not overlap/);
    expect(
      () =>
        new RangeHasher([
          { start: 10, end: 20 },
          { start: 0, end: 5 },
        ]),
    ).toThrow(/sorted and must not overlap/);
  });

  it('proves claims in any order and rejects a false one', () => {
    const claims = [
      { start: 6_000, end: 10_000, sha256: truth[4]! },
      { start: 5, end: 4_000, sha256: truth[2]! },
      { start: 0, end: 1, sha256: sha256Hex('not these bytes') },
      { start: 1, end: 1, sha256: sha256Hex('') },
    ];
    const p = new RangeProver(claims);
    feedChunked(bytes, 3, 500, (c, pos) => p.feed(c, pos));
    expect(p.result()).toEqual([true, true, false, true]);
  });

  it('an empty claim sharing a start with another is fine in either order', () => {
    for (const claims of [
      [
        { start: 5, end: 4_000, sha256: truth[2]! },
        { start: 5, end: 5, sha256: sha256Hex('') },
      ],
      [
        { start: 5, end: 5, sha256: sha256Hex('') },
        { start: 5, end: 4_000, sha256: truth[2]! },
      ],
    ]) {
      const p = new RangeProver(claims);
      p.feed(bytes, 0);
      expect(p.result()).toEqual([true, true]);
    }
  });

  it('proveFile reads a file once for its sha256 and its claims', async () => {
    const dir = tempDir();
    const f = join(dir, 'x.bin');
    writeFileSync(f, bytes);
    const r = await proveFile(f, [
      { start: 5, end: 4_000, sha256: truth[2]! },
      { start: 6_000, end: 10_000, sha256: truth[2]! },
    ]);
    expect(r).toEqual({ sha256: sha256Hex(bytes), size: bytes.length, proven: [true, false] });
  });
});

describe('assembleDelta', () => {
  // 8 tensors of 40,000 floats (160 KB each); v2 changes tensors 1 and 4. Chunks of 50,000 bytes split
  // every tensor and the header, so the pass crosses many chunk and piece boundaries.
  async function setup() {
    const v1 = model([1, 2, 3, 4, 5, 6, 7, 8], 40_000);
    const v2 = model([1, 20, 3, 4, 50, 6, 7, 8], 40_000);
    const store = new TestStore();
    store.add('m', '1.1.0', { 'model.safetensors': v2 });
    const server = await new StoreServer(store.dir).start();
    const source = new HttpSource(server.url, { idleTimeoutMs: 1_000 });
    cleanup.push(
      () => source.close(),
      () => server.close(),
    );
    const dir = tempDir('mg-delta-');
    const local = join(dir, 'v1.blob');
    writeFileSync(local, v1);
    chmodSync(local, 0o644);
    const idx1 = indexSafetensorsBytes('v1', v1);
    const localTensors: LocalTensors = new Map(
      idx1.tensors.map((t) => [t.sha256, { path: local, start: t.start, end: t.end }]),
    );
    const index = validIndex(indexSafetensorsBytes('v2', v2), v2.length)!;
    const plan = planDelta(index, v2.length, localTensors, 0);
    // The real HttpSource, counting bodies not yet ended or destroyed: what is still in flight.
    const open = { bodies: 0 };
    const counted: BlobSource = {
      description: source.description,
      head: (k, o) => source.head(k, o),
      getConditional: (k, e, o) => source.getConditional(k, e, o),
      get: async (k, o) => {
        const r = await source.get(k, o);
        open.bodies++;
        let done = false;
        const settle = () => {
          if (!done) {
            done = true;
            open.bodies--;
          }
        };
        r.body.once('end', settle).once('close', settle).once('error', settle);
        return r;
      },
    };
    const ctx: FetchContext = {
      source: counted,
      retry: FAST_RETRY,
      stats: { bytesFetched: 0, requests: 0, retries: 0 },
    };
    const partial = join(dir, 'v2.partial');
    const run = (opts: { chunkBytes?: number; concurrency?: number } = { chunkBytes: 50_000 }) =>
      assembleDelta(ctx, blobKey(sha256Hex(v2)), v2.length, index, plan, partial, opts);
    return { v1, v2, server, dir, local, index, plan, ctx, partial, run, open };
  }

  it('builds the new file, hashing it in the same pass, with fetched tensors proven', async () => {
    const { v2, index, plan, ctx, partial, run } = await setup();
    expect(plan.remote.length).toBe(3); // the header and the two changed tensors
    for (const chunkBytes of [50_000, 7, 8 << 20]) {
      ctx.stats.bytesFetched = 0;
      const proof = await run({ chunkBytes });
      expect(proof.sha256, `chunk ${chunkBytes}`).toBe(sha256Hex(v2));
      expect(proof.size).toBe(v2.length);
      expect(readFileSync(partial).equals(v2)).toBe(true);
      expect(proof.proven).toEqual(index.tensors.map(() => true));
      expect(ctx.stats.bytesFetched).toBe(plan.remoteBytes);
    }
  });

  it('a fetched tensor that does not match the index is not proven, and the file hash says so', async () => {
    const { v2, server, index, run } = await setup();
    const t1 = index.tensors[1]!;
    const bad = Buffer.from(v2);
    bad[t1.start + 10]! ^= 0xff;
    server.hook = (h) => {
      if (!h.req.headers.range?.startsWith(`bytes=${t1.start}-`)) return false;
      h.file = bad;
      h.serve({ body: bad });
      return true;
    };
    const proof = await run();
    expect(proof.sha256).toBe(createHash('sha256').update(bad).digest('hex'));
    expect(proof.sha256).not.toBe(sha256Hex(v2));
    expect(proof.proven[1]).toBe(false);
    expect(proof.proven.filter((p) => !p).length).toBe(1);
  });

  it('local bytes damaged after they were proven change the file hash (the caller then downloads whole)', async () => {
    const { v2, local, run } = await setup();
    const bytes = readFileSync(local);
    bytes[bytes.length - 5]! ^= 0x01;
    writeFileSync(local, bytes);
    const proof = await run();
    expect(proof.sha256).not.toBe(sha256Hex(v2));
  });

  it('a local blob shorter than its index is DeltaUnusable, and nothing is left running', async () => {
    const { local, dir, run } = await setup();
    truncateSync(local, 500_000);
    await expect(run()).rejects.toBeInstanceOf(DeltaUnusable);
    await expect(run()).rejects.toThrow(/shorter than its index says/);
    expect(openFilesUnder(dir)).toEqual([]); // the staging file and the local blob are closed
  });

  it('when the pass fails, a fetch still running is cancelled, not retried, and has ended before the call returns', async () => {
    const { server, index, local, ctx, run, open } = await setup();
    truncateSync(local, 500_000); // the pass fails at tensor 3, a local one
    const t4 = index.tensors[4]!;
    // Tensor 4's range stalls after a few bytes: without cancelling, the 1 s idle timeout and retries follow.
    server.hook = (h) => {
      if (!h.req.headers.range?.startsWith(`bytes=${t4.start}-`)) return false;
      h.serve({ stallAfter: 1_000 });
      return true;
    };
    const err = await run().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeltaUnusable);
    expect(open.bodies).toBe(0); // nothing of ours still reading (or about to write into the closed file)
    expect(ctx.stats.retries).toBe(0);
    expect(server.log.some((e) => e.range?.startsWith(`bytes=${t4.start}-`))).toBe(true); // it had started
  });

  it('a local blob that cannot be opened is DeltaUnusable; concurrency 0 still fetches', async () => {
    const { v2, local, run } = await setup();
    expect((await run({ concurrency: 0 })).sha256).toBe(sha256Hex(v2));
    rmSync(local);
    await expect(run()).rejects.toThrow(/local blob .* cannot be read/);
  });

  it('a range that keeps failing ends the pass with a NetworkError, not a half-verified file', async () => {
    const { server, index, dir, run } = await setup();
    const t4 = index.tensors[4]!;
    server.hook = (h) => {
      if (!h.req.headers.range?.startsWith(`bytes=${t4.start}-`)) return false;
      h.serve({ status: 500, body: Buffer.from('boom') });
      return true;
    };
    const err = await run().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetworkError);
    expect((err as Error).message).toMatch(new RegExp(`bytes ${t4.start}-`));
    expect(openFilesUnder(dir)).toEqual([]); // no fetch still writing into a closed file
  });
});
