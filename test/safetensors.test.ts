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
    expect(await refused(p)).toMatch(/tensor "a" has unknown field\(s\) "evil"/);
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

describe('safetensors: hostile headers are refused as UserErrors (fuzz findings)', () => {
  /** Header text + data section as one in-memory file. */
  const file = (header: string, data: Uint8Array = new Uint8Array()): Buffer => {
    const h = Buffer.from(header);
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(h.length));
    return Buffer.concat([len, h, data]);
  };
  /** The refusal of parseSafetensors: a UserError naming the file (anything else fails the test). */
  const refusal = (bytes: Uint8Array): string => {
    let err: unknown;
    try {
      parseSafetensors('hostile.safetensors', bytes);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/^hostile\.safetensors: invalid safetensors: /);
    expect(msg.length).toBeLessThan(1_000); // a bounded preview, never the whole value
    return msg;
  };
  const deep = (n: number, open = '[', close = ']') => open.repeat(n) + close.repeat(n);
  const deepObj = (n: number) => '{"x":'.repeat(n) + '1' + '}'.repeat(n);

  it('a dtype nested 100,000 levels deep: refused naming the field, no stack overflow', () => {
    const msg = refusal(file(`{"a":{"dtype":${deep(100_000)},"shape":[1],"data_offsets":[0,1]}}`, new Uint8Array(1)));
    expect(msg).toMatch(/tensor "a" dtype: nested deeper than 127 levels/);
  });

  it('a shape nested 100,000 levels deep (arrays or objects): refused naming the field', () => {
    expect(refusal(file(`{"a":{"dtype":"U8","shape":${deep(100_000)},"data_offsets":[0,1]}}`))).toMatch(
      /tensor "a" shape: nested deeper than 127 levels/,
    );
    expect(refusal(file(`{"a":{"dtype":"U8","shape":[${deepObj(100_000)}],"data_offsets":[0,1]}}`))).toMatch(
      /tensor "a" shape: nested deeper than 127 levels/,
    );
  });

  it('data_offsets nested 100,000 levels deep: refused naming the field', () => {
    expect(refusal(file(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,${deep(100_000)}]}}`))).toMatch(
      /tensor "a" data_offsets: nested deeper than 127 levels/,
    );
  });

  it('nesting up to the reference limit is parsed (and refused for its type, shallowly)', () => {
    // 127 nested containers is what serde_json still reads; the 128th is refused.
    const ok = `{"a":{"dtype":"U8","shape":[1],"data_offsets":${deep(125)}}}`; // 2 + 125 = 127
    expect(refusal(file(ok))).toMatch(/tensor "a" data_offsets must be \[start, end\] non-negative integers/);
    const over = `{"a":{"dtype":"U8","shape":[1],"data_offsets":${deep(126)}}}`; // 128
    expect(refusal(file(over))).toMatch(/nested deeper than 127 levels/);
  });

  it('dtype names every object inherits are unknown dtypes, not a crash', () => {
    for (const dtype of ['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf', '__defineGetter__']) {
      const msg = refusal(
        file(`{"a":{"dtype":${JSON.stringify(dtype)},"shape":[1],"data_offsets":[0,1]}}`, new Uint8Array(1)),
      );
      expect(msg).toContain(`tensor "a" has unknown dtype ${JSON.stringify(dtype)}`);
    }
  });

  it('__metadata__ keys named like inherited properties are kept, not silently dropped', () => {
    const meta = '{"__proto__":"x","constructor":"y","toString":"z","format":"pt"}';
    const bytes = file(
      `{"__metadata__":${meta},"w":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}`,
      new Uint8Array(2),
    );
    const index = indexSafetensorsBytes('meta.safetensors', bytes);
    const m = index.metadata!;
    expect(Object.keys(m).sort()).toEqual(['__proto__', 'constructor', 'format', 'toString']);
    expect(Object.getOwnPropertyDescriptor(m, '__proto__')?.value).toBe('x');
    expect(m.constructor).toBe('y');
    expect(JSON.parse(JSON.stringify(index)).metadata).toEqual(JSON.parse(meta)); // what the store writes
    // A value that is not a string is refused, whatever its key.
    expect(refusal(file('{"__metadata__":{"__proto__":{"a":"b"}}}'))).toMatch(
      /__metadata__ "__proto__" must be a string, got object/,
    );
  });

  it('a tensor named __proto__ is an ordinary tensor; a field named __proto__ is an unknown field', () => {
    const bytes = file('{"__proto__":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', new Uint8Array(1));
    expect(parseSafetensors('p', bytes).tensors.map((t) => t.name)).toEqual(['__proto__']);
    expect(
      refusal(file('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"__proto__":{}}}', new Uint8Array(1))),
    ).toMatch(/tensor "a" has unknown field\(s\) "__proto__"/);
  });

  it('the writer keeps a tensor named __proto__ (an assignment would set the prototype instead)', () => {
    const bytes = encodeSafetensors([
      { name: '__proto__', dtype: 'U8', shape: [2], data: new Uint8Array(2) },
      { name: 'b', dtype: 'U8', shape: [1], data: new Uint8Array(1) },
    ]);
    expect(parseSafetensors('w', bytes).tensors.map((t) => t.name)).toEqual(['__proto__', 'b']);
  });

  it('integers as the reference reads a usize: 16.0, 1e1, -0 and friends are refused', () => {
    // shape 16 x U8 = 16 bytes; each spelling below has the value 16 (or 0) once JSON.parse is done with it.
    for (const dim of ['16.0', '1.6e1', '16E0', '1.60e+1']) {
      const msg = refusal(file(`{"a":{"dtype":"U8","shape":[${dim}],"data_offsets":[0,16]}}`, new Uint8Array(16)));
      expect(msg).toContain(
        `tensor "a" shape must be a list of non-negative integers, got [${dim}]: shape[0] is ${dim}`,
      );
    }
    for (const [offsets, bad] of [
      ['[0,1e1]', '1e1'],
      ['[-0,10]', '-0'],
      ['[0.0,10]', '0.0'],
      ['[0,10.0]', '10.0'],
    ] as const) {
      const msg = refusal(file(`{"a":{"dtype":"U8","shape":[10],"data_offsets":${offsets}}}`, new Uint8Array(10)));
      expect(msg).toContain(`tensor "a" data_offsets must be [start, end] non-negative integers, got ${offsets}`);
      expect(msg).toContain(`is ${bad}`);
    }
    expect(refusal(file('{"a":{"dtype":"U8","shape":[-0],"data_offsets":[0,0]}}'))).toContain('shape[0] is -0');
    // The same tensors written as plain integers are fine.
    expect(
      parseSafetensors('ok', file('{"a":{"dtype":"U8","shape":[10],"data_offsets":[0,10]}}', new Uint8Array(10)))
        .tensors,
    ).toHaveLength(1);
  });

  it('element counts over a usize are refused as the reference does, even when another dimension is 0', () => {
    expect(refusal(file('{"a":{"dtype":"U8","shape":[4294967296,4294967296,0],"data_offsets":[0,0]}}'))).toMatch(
      /tensor "a" shape \[4294967296,4294967296,0\] overflows/,
    );
    // A 0 first keeps the running product at 0: accepted, as in the reference.
    expect(
      parseSafetensors('z', file('{"a":{"dtype":"U8","shape":[0,4294967296,4294967296],"data_offsets":[0,0]}}'))
        .tensors,
    ).toHaveLength(1);
  });

  it('leading JSON whitespace before the header object is accepted, as the reference does', () => {
    const bytes = file(' \t\r\n{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', new Uint8Array(1));
    expect(parseSafetensors('ws', bytes).tensors.map((t) => t.name)).toEqual(['a']);
    expect(refusal(file(' x{}'))).toMatch(/header is not a JSON object/);
  });

  it('wrong types are described by type and a bounded preview', () => {
    const long = 'n'.repeat(1_000_000);
    const msg = refusal(file(`{"${long}":{"dtype":"F17","shape":[1],"data_offsets":[0,1]}}`, new Uint8Array(1)));
    expect(msg).toMatch(/tensor "n{64}"… \(1000000 characters\) has unknown dtype "F17"/);
    const strings = `[${Array(200_000).fill('"x"').join(',')}]`;
    expect(refusal(file(`{"a":{"dtype":"U8","shape":${strings},"data_offsets":[0,1]}}`))).toMatch(
      /shape must be a list of non-negative integers, got \["x","x","x","x","x","x","x","x",… \(200000 items\)\]: shape\[0\] is string "x"/,
    );
    expect(refusal(file('{"a":{"dtype":["F32"],"shape":[1],"data_offsets":[0,1]}}'))).toMatch(
      /tensor "a" dtype must be a string, got array \["F32"\]/,
    );
    expect(refusal(file('{"a":{"dtype":"U8","shape":[1],"data_offsets":null}}'))).toMatch(
      /tensor "a" data_offsets must be \[start, end\] non-negative integers, got null/,
    );
    expect(refusal(file('{"a":{"shape":[1],"data_offsets":[0,1]}}'))).toMatch(/tensor "a" is missing dtype/);
    expect(refusal(file('{"a":[1,2]}'))).toMatch(
      /tensor "a" must be an object \{dtype, shape, data_offsets\}, got array/,
    );
  });

  it('a header that is invalid JSON never hangs the duplicate-key scan', () => {
    for (const h of ['{"a\\', '{"a":"\\"}', '{"a":"b', '{"\\u00zz":1}', '{"a":{"b":1,"b"']) {
      expect(refusal(file(h))).toMatch(/header is not valid JSON/);
    }
  });
});
