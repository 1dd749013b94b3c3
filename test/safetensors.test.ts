import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  encodeSafetensors,
  indexSafetensors,
  indexSafetensorsBytes,
  MAX_HEADER_BYTES,
  parseSafetensors,
  readSafetensorsHeader,
  summarizeTensors,
  writeSafetensors,
} from '../src/formats/safetensors.ts';
import { planDelta } from '../src/sync/delta.ts';
import { validIndex } from '../src/sync/safetensors-index.ts';
import { readSafetensors as readF32, writeSafetensors as writeF32 } from '../src/demo-model/f32-tensors.ts';
import { UserError } from '../src/lib/errors.ts';
import { tempDir } from './helpers/files.ts';

let dir: string;
beforeAll(async () => {
  dir = await tempDir('st');
});

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** A file from a raw header (any JSON text) and a data section. */
async function rawFile(
  name: string,
  header: string,
  data: Uint8Array = new Uint8Array(),
  lengthField?: bigint,
): Promise<string> {
  const h = Buffer.from(header);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(lengthField ?? BigInt(h.length));
  const p = join(dir, name);
  await writeFile(p, Buffer.concat([len, h, data]));
  return p;
}

async function refused(file: string): Promise<string> {
  const e = await readSafetensorsHeader(file).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(UserError);
  const msg = (e as Error).message;
  expect(msg).toContain(file);
  return msg;
}

describe('safetensors writer + indexer', () => {
  it('round-trips tensors and indexes them in the whole-file pass', async () => {
    const a = randomBytes(4 * 3 * 4); // F32 [4,3]
    const b = randomBytes(2 * 5); // BF16 [5]
    const p = join(dir, 'ok.safetensors');
    await writeSafetensors(
      p,
      [
        { name: 'layer.weight', dtype: 'F32', shape: [4, 3], data: a },
        { name: 'layer.bias', dtype: 'BF16', shape: [5], data: b },
        { name: 'empty', dtype: 'F16', shape: [0, 7], data: new Uint8Array() },
      ],
      { format: 'pt' },
    );
    const bytes = await readFile(p);
    const { sha256, size, index } = await indexSafetensors(p);
    expect(sha256).toBe(sha(bytes));
    expect(size).toBe(bytes.length);
    expect(index.format).toBe('safetensors');
    expect((8 + index.headerSize) % 8).toBe(0); // header padded to alignment
    expect(index.metadata).toEqual({ format: 'pt' });
    const w = index.tensors.find((t) => t.name === 'layer.weight')!;
    expect(w).toMatchObject({
      dtype: 'F32',
      shape: [4, 3],
      start: 8 + index.headerSize,
      end: 8 + index.headerSize + a.length,
    });
    expect(w.sha256).toBe(sha(a));
    expect(bytes.subarray(w.start, w.end).equals(a)).toBe(true);
    expect(index.tensors.find((t) => t.name === 'layer.bias')!.sha256).toBe(sha(b));
    expect(index.tensors.find((t) => t.name === 'empty')!.sha256).toBe(sha(new Uint8Array()));
    expect(summarizeTensors(index.tensors)).toEqual({ parameters: 12 + 5, dtype: 'F32' });
  });

  it('hashes tensors that span the 8 MiB read chunks', async () => {
    const big = randomBytes(9 * 1024 * 1024 + 3);
    const small = randomBytes(5);
    const p = join(dir, 'span.safetensors');
    await writeFile(
      p,
      encodeSafetensors([
        { name: 'a', dtype: 'U8', shape: [small.length], data: small },
        { name: 'big', dtype: 'U8', shape: [big.length], data: big },
        { name: 'tail', dtype: 'U8', shape: [small.length], data: small },
      ]),
    );
    const { index } = await indexSafetensors(p);
    expect(index.tensors.map((t) => [t.name, t.sha256])).toEqual([
      ['a', sha(small)],
      ['big', sha(big)],
      ['tail', sha(small)],
    ]);
  });
});

describe('safetensors: malformed files are refused with a clear message', () => {
  const t = (name: string, dtype: string, shape: number[], offsets: [number, number]) =>
    `"${name}":{"dtype":"${dtype}","shape":${JSON.stringify(shape)},"data_offsets":${JSON.stringify(offsets)}}`;

  it('truncated: shorter than the length field', async () => {
    const p = join(dir, 'tiny.safetensors');
    await writeFile(p, Buffer.from([1, 2, 3]));
    expect(await refused(p)).toMatch(/file is 3 bytes, shorter than the 8-byte header length/);
  });

  it('truncated: header runs past the end of the file', async () => {
    const p = await rawFile('trunc.safetensors', `{${t('a', 'U8', [4], [0, 4])}}`, new Uint8Array(4));
    const bytes = await readFile(p);
    await writeFile(p, bytes.subarray(0, 20));
    expect(await refused(p)).toMatch(/runs past the end of the 20-byte file/);
  });

  it('truncated: data section shorter than the tensors', async () => {
    const p = await rawFile('trunc-data.safetensors', `{${t('a', 'U8', [8], [0, 8])}}`, new Uint8Array(5));
    expect(await refused(p)).toMatch(/tensor "a" data_offsets \[0, 8\] out of range: the data section has 5 bytes/);
  });

  it('header length over the cap', async () => {
    const p = await rawFile('huge.safetensors', '{}', new Uint8Array(), BigInt(MAX_HEADER_BYTES) + 1n);
    expect(await refused(p)).toMatch(/header length 104857601 is over the 104857600-byte limit/);
  });

  it('overlapping offsets', async () => {
    const p = await rawFile(
      'overlap.safetensors',
      `{${t('a', 'U8', [4], [0, 4])},${t('b', 'U8', [4], [2, 6])}}`,
      new Uint8Array(6),
    );
    expect(await refused(p)).toMatch(/tensor "b" data_offsets \[2, 6\] overlap tensor "a" \[0, 4\]/);
  });

  it('out-of-range offsets', async () => {
    const p = await rawFile(
      'range.safetensors',
      `{${t('a', 'U8', [4], [0, 4])},${t('b', 'U8', [4], [4, 8])}}`,
      new Uint8Array(6),
    );
    expect(await refused(p)).toMatch(/tensor "b" data_offsets \[4, 8\] out of range: the data section has 6 bytes/);
  });

  it('end before start', async () => {
    const p = await rawFile('backwards.safetensors', `{${t('a', 'U8', [0], [4, 2])}}`, new Uint8Array(4));
    expect(await refused(p)).toMatch(/tensor "a" data_offsets \[4, 2\] end before start/);
  });

  it('a hole between tensors', async () => {
    const p = await rawFile(
      'hole.safetensors',
      `{${t('a', 'U8', [4], [0, 4])},${t('b', 'U8', [2], [6, 8])}}`,
      new Uint8Array(8),
    );
    expect(await refused(p)).toMatch(/hole in the data section: bytes \[4, 6\) before tensor "b"/);
  });

  it('bytes after the last tensor', async () => {
    const p = await rawFile('trailing.safetensors', `{${t('a', 'U8', [4], [0, 4])}}`, new Uint8Array(7));
    expect(await refused(p)).toMatch(/3 bytes after the last tensor/);
  });

  it('duplicate tensor names (JSON.parse would keep the last)', async () => {
    const p = await rawFile(
      'dup.safetensors',
      `{${t('a', 'U8', [4], [0, 4])},${t('a', 'U8', [4], [4, 8])}}`,
      new Uint8Array(8),
    );
    expect(await refused(p)).toMatch(/duplicate key "a" \(tensor names must be unique\)/);
  });

  it('duplicate names written with different escapes', async () => {
    const p = await rawFile(
      'dup-esc.safetensors',
      `{${t('ab', 'U8', [4], [0, 4])},${t('a\\u0062', 'U8', [4], [4, 8])}}`,
      new Uint8Array(8),
    );
    expect(await refused(p)).toMatch(/duplicate key "ab"/);
  });

  it('non-JSON header', async () => {
    const p = await rawFile('nonjson.safetensors', '{"a": {dtype: U8}}');
    expect(await refused(p)).toMatch(/header is not valid JSON/);
  });

  it('header that is JSON but not an object', async () => {
    const p = await rawFile('array.safetensors', '[1,2,3]');
    expect(await refused(p)).toMatch(/header is not a JSON object/);
  });

  it('header that is not UTF-8', async () => {
    const h = Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]);
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(h.length));
    const p = join(dir, 'latin.safetensors');
    await writeFile(p, Buffer.concat([len, h]));
    expect(await refused(p)).toMatch(/header is not valid UTF-8/);
  });

  it('unknown dtype', async () => {
    const p = await rawFile('dtype.safetensors', `{${t('a', 'F17', [4], [0, 4])}}`, new Uint8Array(4));
    expect(await refused(p)).toMatch(/tensor "a" has unknown dtype "F17"/);
  });

  it('shape / byte length mismatch', async () => {
    const p = await rawFile('size.safetensors', `{${t('w', 'F32', [2, 3], [0, 12])}}`, new Uint8Array(12));
    expect(await refused(p)).toMatch(
      /tensor "w" size mismatch: F32 \[2,3\] needs 24 bytes, data_offsets \[0, 12\] give 12/,
    );
  });

  it('negative or fractional shape', async () => {
    const p = await rawFile('shape.safetensors', `{${t('w', 'U8', [-1], [0, 0])}}`);
    expect(await refused(p)).toMatch(/tensor "w" shape must be a list of non-negative integers, got \[-1\]/);
    const q = await rawFile('shape2.safetensors', `{${t('w', 'U8', [1.5], [0, 0])}}`);
    expect(await refused(q)).toMatch(/shape must be a list of non-negative integers/);
  });

  it('non-string metadata', async () => {
    const p = await rawFile(
      'meta.safetensors',
      `{"__metadata__":{"format":"pt","epochs":3},${t('a', 'U8', [4], [0, 4])}}`,
      new Uint8Array(4),
    );
    expect(await refused(p)).toMatch(/__metadata__ "epochs" must be a string, got number/);
  });

  it('unknown tensor fields', async () => {
    const p = await rawFile(
      'extra.safetensors',
      '{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"evil":1}}',
      new Uint8Array(1),
    );
    expect(await refused(p)).toMatch(/tensor "a" has unknown field\(s\) evil/);
  });

  it('indexSafetensors refuses a bad file before hashing', async () => {
    const p = await rawFile('bad-index.safetensors', `{${t('a', 'U8', [4], [0, 4])}}`, new Uint8Array(2));
    await expect(indexSafetensors(p)).rejects.toThrow(/out of range/);
  });
});

describe('one index format: the store writes it, the in-memory indexer matches it, a device reads it', () => {
  it('indexSafetensorsBytes gives the object indexSafetensors (push time) gives', async () => {
    const p = join(dir, 'same.safetensors');
    await writeSafetensors(
      p,
      [
        { name: 'b', dtype: 'F32', shape: [2], data: randomBytes(8) },
        { name: 'a', dtype: 'U8', shape: [3], data: randomBytes(3) },
      ],
      { format: 'pt' },
    );
    const bytes = await readFile(p);
    const { index } = await indexSafetensors(p);
    expect(indexSafetensorsBytes(p, bytes)).toEqual(index);
  });

  it('a device accepts the stored index and plans the header as [0, 8 + headerSize)', async () => {
    const p = join(dir, 'device.safetensors');
    await writeSafetensors(p, [{ name: 'w', dtype: 'F32', shape: [4], data: randomBytes(16) }]);
    const { index, size } = await indexSafetensors(p);
    const seen = validIndex(JSON.parse(JSON.stringify(index)), size);
    expect(seen).toBeDefined();
    expect(planDelta(seen!, size, new Map()).remote).toEqual([[0, size]]);
    const local = new Map([[index.tensors[0]!.sha256, { path: '/x', start: 0, end: 16 }]]);
    expect(planDelta(seen!, size, local, 1).remote).toEqual([[0, 8 + index.headerSize]]);
    expect(validIndex({ ...index, headerSize: size }, size)).toBeUndefined(); // header past the end of the file
  });

  it('parseSafetensors reads a header prefix against the whole file size, with the same checks', async () => {
    const bytes = encodeSafetensors([{ name: 'w', dtype: 'U8', shape: [4], data: new Uint8Array(4) }]);
    const prefix = bytes.subarray(0, bytes.length - 4);
    expect(parseSafetensors('f', prefix, { fileSize: bytes.length }).tensors).toEqual(
      (await readSafetensorsHeader(await rawFileFrom('prefix.safetensors', bytes))).tensors,
    );
    expect(() => parseSafetensors('f', prefix.subarray(0, 10), { fileSize: bytes.length })).toThrow(
      /need \d+ bytes of header, have 10/,
    );
    expect(() => parseSafetensors('f', prefix)).toThrow(/out of range/); // without fileSize the prefix is the whole file
  });

  it('the demo F32 reader/writer is the reference layout, F32 only, with its 16 MiB header bound', () => {
    const data = new Float32Array([1, 2, 3, 4, 5, 6]);
    const bytes = writeF32([{ name: 'w', shape: [2, 3], data }]);
    expect(
      bytes.equals(
        encodeSafetensors([{ name: 'w', dtype: 'F32', shape: [2, 3], data: new Uint8Array(data.buffer) }], {
          format: 'pt',
        }),
      ),
    ).toBe(true);
    expect(readF32(bytes).get('w')).toEqual({ shape: [2, 3], data });
    const u8 = encodeSafetensors([{ name: 'w', dtype: 'U8', shape: [1], data: new Uint8Array(1) }]);
    expect(() => readF32(u8, 'u8.safetensors')).toThrow(
      'u8.safetensors: tensor w: dtype U8 is not supported (F32 only)',
    );
    const big = Buffer.alloc(8 + 17 * 1024 * 1024, 0x20);
    big.writeBigUInt64LE(BigInt(17 * 1024 * 1024));
    expect(() => readF32(big, 'big.safetensors')).toThrow(/header length 17825792 is over the 16777216-byte limit/);
  });
});

async function rawFileFrom(name: string, bytes: Uint8Array): Promise<string> {
  const p = join(dir, name);
  await writeFile(p, bytes);
  return p;
}
