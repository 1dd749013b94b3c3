// The device-side index check: any JSON value in, an index or a reason out, never a throw.
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeSafetensors, indexSafetensorsBytes } from '../../src/formats/safetensors.ts';
import { indexKey } from '../../src/store/keys.ts';
import { syncEnvironment, type SyncEvent } from '../../src/sync/engine.ts';
import { HttpSource } from '../../src/sync/http-source.ts';
import { checkIndex, validIndex } from '../../src/sync/index-check.ts';
import { tempDir } from '../helpers.ts';
import { FAST_RETRY, model, StoreServer, TestStore, verifyCurrent } from './helpers.ts';

const bytes = encodeSafetensors(
  [
    { name: 'a', dtype: 'F32', shape: [2, 2], data: randomBytes(16) },
    { name: 'empty', dtype: 'U8', shape: [0], data: new Uint8Array() },
    { name: 'b', dtype: 'U8', shape: [3], data: randomBytes(3) },
  ],
  { format: 'pt' },
);
const size = bytes.length;
/** The index the store writes for `bytes`, as a device parses it (a fresh JSON copy each call). */
const stored = (): Record<string, any> => JSON.parse(JSON.stringify(indexSafetensorsBytes('f', bytes)));

/** checkIndex's refusal reason for `value` (the test fails if it throws or accepts). */
function reason(value: unknown, fileSize = size): string {
  const r = checkIndex(value, fileSize);
  expect(r.ok).toBe(false);
  expect(validIndex(value, fileSize)).toBeUndefined();
  return (r as { reason: string }).reason;
}

describe('checkIndex / validIndex', () => {
  it('accepts the index the store writes, sorted, with only the fields it checked', () => {
    const v = stored();
    v.tensors.reverse();
    v.tensors[0].extra = 'ignored';
    const r = checkIndex(v, size);
    expect(r.ok).toBe(true);
    const index = (r as { ok: true; index: any }).index;
    expect(index.tensors.map((t: { name: string }) => t.name)).toEqual(['a', 'empty', 'b']);
    expect(index.tensors.every((t: object) => !('extra' in t))).toBe(true);
    expect(validIndex(stored(), size)).toEqual(index);
  });

  it('null and other non-object tensor entries are refused, not read (the fuzz crash)', () => {
    for (const entry of [null, 1, 'x', true, [], [0, 16]]) {
      const v = stored();
      v.tensors.splice(1, 0, entry);
      expect(reason(v)).toMatch(/^tensors\[1\] must be an object/);
    }
    const v = stored();
    v.tensors = [null];
    expect(reason(v)).toMatch(/tensors\[0\] must be an object, got null/);
  });

  it('any JSON value at the top: a reason, never a throw', () => {
    for (const value of [null, undefined, 0, 'index', true, [], [stored()], {}]) expect(reason(value)).toBeTruthy();
    expect(reason(null)).toBe('the index is null, not an object');
    expect(reason({ ...stored(), format: 'onnx' })).toBe('format is string "onnx", not one of "safetensors", "gguf"');
    expect(reason({ ...stored(), format: 'gguf' })).toBe('a gguf index must have a version, it has none');
    expect(reason({ ...stored(), tensors: null })).toBe('tensors must be a list, got null');
  });

  it('wrong field types in an entry are refused by name', () => {
    const cases: [string, unknown, RegExp][] = [
      ['start', '40', /tensors\[0\] \("a"\) start must be a non-negative integer, got string "40"/],
      ['end', 1.5, /end must be a non-negative integer, got number 1.5/],
      ['end', -1, /end must be a non-negative integer, got number -1/],
      ['start', 2 ** 53, /start must be a non-negative integer, got number 9007199254740992/],
      ['sha256', 'A'.repeat(64), /sha256 must be 64 lowercase hex digits, got string "A{64}"/],
      ['sha256', null, /sha256 must be 64 lowercase hex digits, got null/],
      ['name', { toString: 'a' }, /tensors\[0\] name must be a string, got object/],
      ['dtype', ['F32'], /dtype must be a string, got array \["F32"\]/],
      ['shape', [1, null], /shape must be a list of non-negative integers, got array \[1,null\]/],
      ['shape', null, /shape must be a list of non-negative integers, got null/],
    ];
    for (const [field, value, want] of cases) {
      const v = stored();
      v.tensors[0][field] = value;
      expect(reason(v)).toMatch(want);
    }
    const v = stored();
    delete v.tensors[0].sha256;
    expect(reason(v)).toMatch(/tensors\[0\] \("a"\) sha256 must be 64 lowercase hex digits, got nothing/);
  });

  it('inherited names are not fields: only own properties count', () => {
    const proto = stored();
    expect(reason(Object.create(proto))).toMatch(/format is nothing/);
    const v = stored();
    v.tensors[0] = Object.create(v.tensors[0]);
    expect(reason(v)).toMatch(/tensors\[0\] name must be a string, got nothing/);
    const w = JSON.parse('{"format":"safetensors","headerSize":2,"tensors":[],"__proto__":{"tensors":[1]}}');
    expect(checkIndex(w, 10).ok).toBe(true);
  });

  it('tensors outside the data section, overlapping, or leaving bytes uncovered are refused', () => {
    const idx = stored();
    const [a, empty, b] = idx.tensors as { start: number; end: number }[];
    const data = 8 + idx.headerSize;
    const move = (i: number, start: number, end: number) => {
      const v = stored();
      Object.assign(v.tensors[i], { start, end });
      return reason(v);
    };
    expect(move(0, data - 1, a!.end)).toMatch(/"a" \[\d+, \d+\) overlaps header region \[0, \d+\)/);
    expect(move(2, b!.start, size + 1)).toMatch(/"b" \[\d+, \d+\) ends past the end of the \d+-byte file/);
    expect(move(0, a!.end, a!.start)).toMatch(/"a" \[\d+, \d+\) ends before it starts/);
    expect(move(2, a!.start + 1, a!.start + 4)).toMatch(/"b" \[\d+, \d+\) overlaps tensor "a"/);
    expect(move(1, a!.start + 2, a!.start + 2)).toMatch(/"empty" \[\d+, \d+\) overlaps tensor "a"/);
    expect(move(2, b!.start + 1, b!.end)).toMatch(
      /bytes \[\d+, \d+\) before tensor "b" \[\d+, \d+\) belong to no region/,
    );
    expect(reason(stored(), size + 1)).toMatch(/1 bytes after the last region/);
    expect(empty!.start).toBe(a!.end);
    expect(reason({ ...stored(), headerSize: size })).toMatch(/headerSize \d+ runs past the end of the \d+-byte file/);
    expect(reason({ ...stored(), headerSize: 1 })).toMatch(/headerSize must be an integer of at least 2, got number 1/);
  });

  it('a huge list is checked in one linear pass (the caller caps the index at 16 MiB)', () => {
    const v = stored();
    v.tensors = Array(2_000_000).fill(null);
    const t0 = performance.now();
    expect(reason(v)).toMatch(/tensors\[0\] must be an object/);
    const many = stored();
    const data = 8 + many.headerSize;
    many.tensors = Array.from({ length: 200_000 }, (_, i) => ({
      name: `t${i}`,
      dtype: 'U8',
      shape: [0],
      start: data,
      end: data,
      sha256: '0'.repeat(64),
    }));
    expect(reason(many)).toMatch(/bytes after the last region/);
    expect(performance.now() - t0).toBeLessThan(5_000);
  });
});

describe('a device given a hostile index object', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0)) await f();
  });

  it('downloads the file whole and reports why the index was unusable (no crash)', async () => {
    const store = new TestStore();
    const v1 = model([1, 2, 3, 4], 1024);
    const v2 = model([1, 20, 3, 4], 1024);
    store.add('m', '1.0.0', { 'model.safetensors': v1 });
    const [f2] = store.add('m', '1.1.0', { 'model.safetensors': v2 });
    const hostile = JSON.parse(JSON.stringify(indexSafetensorsBytes('v2', v2)));
    hostile.tensors.splice(1, 0, null); // the fuzz finding: a null entry, read before it was checked
    store.put(indexKey(f2!.sha256), Buffer.from(JSON.stringify(hostile)));
    const server = await new StoreServer(store.dir).start();
    const source = new HttpSource(server.url, { idleTimeoutMs: 400 });
    cleanup.push(
      () => source.close(),
      () => server.close(),
    );
    const dir = tempDir('mg-device-');
    const events: SyncEvent[] = [];
    const sync = (sequence: number, version: string) =>
      syncEnvironment({
        manifest: store.manifest(sequence, { m: version }).manifest,
        environment: 'production',
        dir,
        source,
        retry: FAST_RETRY,
        onEvent: (e) => events.push(e),
      });
    await sync(1, '1.0.0');
    await sync(2, '1.1.0'); // before the fix: a TypeError out of the index check ended the sync
    expect(verifyCurrent(dir, 'm', store.versions)).toBe('1.1.0');
    expect(events).toContainEqual(
      expect.objectContaining({
        type: 'fallback',
        path: 'model.safetensors',
        reason: 'the index object is unusable: tensors[1] must be an object, got null',
      }),
    );
    expect(events).toContainEqual(
      expect.objectContaining({ type: 'file', path: 'model.safetensors', how: 'download' }),
    );
  });
});
