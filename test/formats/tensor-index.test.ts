// The format-neutral tensor index: one read pass gives the whole-file and per-tensor digests (equal to
// independent hashes), the regions and tensors tile the file exactly, and a file that does not parse is
// refused before hashing.
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hashFileRanges } from '../../src/lib/hash.ts';
import { encodeSafetensors } from '../../src/formats/safetensors.ts';
import { indexBytes, indexerFor, indexFile, isIndexable, type TensorIndex } from '../../src/formats/tensor-index.ts';
import { checkIndex } from '../../src/sync/index-check.ts';
import { encodeGguf } from '../helpers/gguf.ts';
import { tempDir } from '../helpers.ts';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Every byte in exactly one region or tensor, in order, from 0 to the size. */
function expectTiles(index: TensorIndex): void {
  const pieces = [...index.regions, ...index.tensors].sort((a, b) => a.start - b.start || a.end - b.end);
  let at = 0;
  for (const p of pieces) {
    expect(p.start).toBe(at);
    expect(p.end).toBeGreaterThanOrEqual(p.start);
    at = p.end;
  }
  expect(at).toBe(index.size);
  expect(index.regions[0]).toMatchObject({ kind: 'header', start: 0 });
}

const gguf = () =>
  encodeGguf({
    version: 3,
    alignment: 64,
    metadata: { 'general.architecture': 'llama', 'general.name': 'tiny' },
    tensors: [
      { name: 'tok_embd.weight', type: 'F32', dims: [16, 8] },
      { name: 'blk.0.attn_q.weight', type: 'Q8_0', dims: [64, 4] },
      { name: 'output_norm.weight', type: 'F32', dims: [3] }, // 12 bytes: padded to 64 before the next
      { name: 'output.weight', type: 'Q8_0', dims: [32, 2] },
    ],
  });

const safetensors = () =>
  encodeSafetensors(
    [
      { name: 'b', dtype: 'F32', shape: [4, 4], data: randomBytes(64) },
      { name: 'empty', dtype: 'U8', shape: [0], data: new Uint8Array() },
      { name: 'a', dtype: 'U8', shape: [5], data: randomBytes(5) },
    ],
    { format: 'pt' },
  );

describe('indexerFor', () => {
  it('knows safetensors and GGUF by extension, case-insensitively, and nothing else', () => {
    expect(indexerFor('model.safetensors')).toBe('safetensors');
    expect(indexerFor('sub/Model-Q4_K_M.GGUF')).toBe('gguf');
    for (const p of ['model.bin', 'tokenizer.json', 'model.safetensors.index.json', 'gguf', 'x.gguf.part'])
      expect(isIndexable(p), p).toBe(false);
  });
});

describe('indexFile', () => {
  it('GGUF: one pass gives the file sha256 and every tensor sha256; header and padding are regions', async () => {
    const bytes = gguf();
    const file = join(tempDir('mg-tidx-'), 'm.gguf');
    writeFileSync(file, bytes);
    const { sha256, size, index } = await indexFile(file, 'gguf');
    expect(sha256).toBe(sha(bytes));
    expect(size).toBe(bytes.length);
    expect(index).toMatchObject({ format: 'gguf', version: 2, size: bytes.length, sha256 });
    expect(index.tensors.map((t) => [t.name, t.dtype])).toEqual([
      ['tok_embd.weight', 'F32'],
      ['blk.0.attn_q.weight', 'Q8_0'],
      ['output_norm.weight', 'F32'],
      ['output.weight', 'Q8_0'],
    ]);
    for (const t of index.tensors) expect(t.sha256, t.name).toBe(sha(bytes.subarray(t.start, t.end)));
    expect(index.tensors[1]!.end - index.tensors[1]!.start).toBe(2 * 4 * 34); // Q8_0: 34 bytes per 32 values
    expect(index.tensors.every((t) => t.start % 64 === 0)).toBe(true);
    expect(index.regions.filter((r) => r.kind === 'padding').length).toBeGreaterThan(0);
    expect(index.regions[0]!.sha256).toBe(sha(bytes.subarray(0, index.regions[0]!.end)));
    expectTiles(index);
    expect(indexBytes(file, bytes, 'gguf')).toEqual(index);
    // The device accepts what the store writes, against the right file only.
    const stored = JSON.parse(JSON.stringify(index));
    expect(checkIndex(stored, size, sha256)).toMatchObject({ ok: true, index: { format: 'gguf', version: 2 } });
    expect(checkIndex(stored, size, '0'.repeat(64))).toEqual({
      ok: false,
      reason: `the index describes the file with sha256 ${sha256}, not ${'0'.repeat(64)}`,
    });
  });

  it('safetensors: the version-2 index keeps headerSize and tensors (version-1 readers still use it)', async () => {
    const bytes = safetensors();
    const file = join(tempDir('mg-tidx-'), 'm.safetensors');
    writeFileSync(file, bytes);
    const { sha256, index } = await indexFile(file, 'safetensors');
    expect(sha256).toBe(sha(bytes));
    const headerSize = Number(bytes.readBigUInt64LE(0));
    expect(index.headerSize).toBe(headerSize);
    expect(index.metadata).toEqual({ format: 'pt' });
    expect(index.regions).toEqual([
      { kind: 'header', start: 0, end: 8 + headerSize, sha256: sha(bytes.subarray(0, 8 + headerSize)) },
    ]);
    expect(index.tensors.map((t) => t.name)).toEqual(['b', 'empty', 'a']);
    for (const t of index.tensors) expect(t.sha256).toBe(sha(bytes.subarray(t.start, t.end)));
    expectTiles(index);
    // A version-1 reader: only format, headerSize and tensors.
    const v1 = { format: index.format, headerSize: index.headerSize, tensors: index.tensors };
    expect(checkIndex(JSON.parse(JSON.stringify(v1)), bytes.length)).toMatchObject({ ok: true, index: { version: 1 } });
  });

  it('refuses a file that does not parse, naming it, before hashing', async () => {
    const dir = tempDir('mg-tidx-');
    const bad = join(dir, 'bad.gguf');
    writeFileSync(bad, Buffer.from('GGUF\x03\x00\x00\x00 not a real header'));
    await expect(indexFile(bad, 'gguf')).rejects.toThrow(/bad\.gguf/);
    const truncated = join(dir, 'cut.gguf');
    writeFileSync(truncated, gguf().subarray(0, 200));
    await expect(indexFile(truncated, 'gguf')).rejects.toThrow(/cut\.gguf/);
    const st = join(dir, 'x.safetensors');
    writeFileSync(st, gguf());
    await expect(indexFile(st, 'safetensors')).rejects.toThrow(/x\.safetensors: invalid safetensors/);
  });
});

describe('hashFileRanges', () => {
  it('on a worker thread or this one, any buffer size: digests equal independent hashes', async () => {
    const bytes = randomBytes(300_000);
    const file = join(tempDir('mg-tidx-'), 'f.bin');
    writeFileSync(file, bytes);
    const ranges = [
      { start: 0, end: 10 },
      { start: 10, end: 10 },
      { start: 999, end: 150_000 },
      { start: 150_000, end: 299_999 },
    ];
    for (const [workerMinBytes, bufferSize] of [
      [Infinity, 7],
      [Infinity, 1 << 20],
      [0, 4096],
      [0, 1 << 20],
    ] as const) {
      const r = await hashFileRanges(file, ranges, { workerMinBytes, bufferSize });
      expect(r.sha256, `${workerMinBytes} ${bufferSize}`).toBe(sha(bytes));
      expect(r.size).toBe(bytes.length);
      expect(r.digests).toEqual(ranges.map((x) => sha(bytes.subarray(x.start, x.end))));
    }
    // A range past the end of the file has no digest (its bytes were not all read).
    const past = await hashFileRanges(file, [{ start: 299_000, end: 300_001 }], { workerMinBytes: 0 });
    expect(past.digests).toEqual([undefined]);
    expect((await hashFileRanges(file)).sha256).toBe(sha(bytes));
  });

  it('refuses overlapping ranges and a missing file', async () => {
    const file = join(tempDir('mg-tidx-'), 'f.bin');
    writeFileSync(file, randomBytes(100));
    await expect(
      hashFileRanges(file, [
        { start: 0, end: 50 },
        { start: 40, end: 60 },
      ]),
    ).rejects.toThrow(/must not overlap/);
    await expect(hashFileRanges(join(file, '..', 'nope'))).rejects.toThrow(/ENOENT/);
  });
});

describe('checkIndex on version-2 indexes', () => {
  const bytes = gguf();
  const index = indexBytes('m.gguf', bytes, 'gguf');
  const refused = (edit: (v: any) => void, fileSize = bytes.length): string => {
    const v = JSON.parse(JSON.stringify(index));
    edit(v);
    const r = checkIndex(v, fileSize);
    expect(r.ok).toBe(false);
    return (r as { reason: string }).reason;
  };
  it('refuses a bad region list, version or size with a reason naming the field', () => {
    expect(refused((v) => (v.version = 3))).toBe('version is number 3; this device reads versions 1 and 2');
    expect(refused((v) => delete v.version)).toBe('a gguf index must have a version, it has none');
    expect(refused((v) => (v.size = 1))).toBe(`size is number 1, the file has ${bytes.length} bytes`);
    expect(refused((v) => (v.regions = []))).toBe('regions must be a non-empty list, got array []');
    expect(refused((v) => (v.regions[0].kind = 'padding'))).toBe(
      'regions[0]: the header must be the first region and the only one',
    );
    expect(refused((v) => (v.regions[0].zero = true))).toBe(
      'regions[0] zero may only be true, on a padding region; got boolean true on a header region',
    );
    expect(refused((v) => (v.regions[1].zero = 1))).toMatch(/^regions\[1\] zero may only be true/);
    expect(refused((v) => (v.regions[1].sha256 = v.regions[0].sha256))).toMatch(
      /^regions\[1\] sha256 may only be 64 lowercase hex digits, on the header region; got string "[0-9a-f]{64}" on a padding region$/,
    );
    expect(refused((v) => (v.regions[0].sha256 = 'A'.repeat(64)))).toMatch(/^regions\[0\] sha256 may only be/);
    expect(refused((v) => (v.regions[0].end = 2 ** 40), 2 ** 41)).toMatch(/^size is number/);
    expect(refused((v) => v.regions.splice(1, 1))).toMatch(
      /^bytes \[\d+, \d+\) before tensor ".+" \[\d+, \d+\) belong to no region$/,
    );
    expect(refused((v) => (v.tensors[0].start -= 1))).toMatch(/overlaps header region \[0, \d+\)$/);
  });
  it('refuses a header region over the in-memory limit before anything reads it', () => {
    const big = 2 ** 30;
    const v = { ...JSON.parse(JSON.stringify(index)), size: big };
    v.regions = [{ kind: 'header', start: 0, end: big }];
    v.tensors = [];
    const r = checkIndex(v, big);
    expect(r).toEqual({
      ok: false,
      reason: `the header region [0, ${big}) is over the ${8 + 100 * 1024 * 1024}-byte limit`,
    });
  });
});
