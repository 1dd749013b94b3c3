// Fuzz target: the device's TUF verification of the published manifest (fetchVerifiedManifest in
// src/trust/client.ts) against whatever an attacker can serve in place of the genuine repository.
//
// The repository is built once, with real keys and the real publisher, and deterministically (fixed
// key seeds and signing times), so every run produces the same bytes and the corpus under
// test/fixtures/fuzz/trust/ replays exactly:
//   root v1 (what the device pins) -> root v2 (root keys rotated, threshold 2 of 3)
//   publication 1 (root v1): manifest M1 and its environment slices; its timestamp expired in 2025
//   publication 2 (root v2): manifest M2 with production and staging slices; valid until 2125
//
// One input is a plan: the attacker (no keys / the online timestamp and snapshot keys / those and the
// targets key), the device (fresh, stale at publication 1, current at publication 2), the transport
// (the store folder, or HTTP on 127.0.0.1, the two sources a device uses), the target asked for
// (manifest.json or a slice) and, per file the device fetches (a target's bytes, targets, snapshot,
// timestamp.json, 2.root.json, a new 3.root.json): an optional other file to start from
// (mix-and-match, replays, corpus files), structured JSON mutations (values from a pool of versions,
// expiries, hashes, lengths, key ids, signatures, roles, thresholds, type confusions; deletions, extra
// keys, renames, copies; number spellings, duplicate keys, deep nesting), re-signing with the keys
// that attacker holds (or with a key nobody trusts), a serialisation style, and byte mutations (bit
// flips, insertions, truncation, oversizing past the caps, BOM, UTF-16). In chain mode a changed file
// whose key the attacker holds becomes a new version, and every changed file's parent is re-pointed at
// it (version, length, sha256), as an attacker forging a whole publication would. Each run only swaps
// the mutated files in the one repository and restores them afterwards.
//
// Properties, for every input:
// 1. The device returns exactly the genuine bytes of the target it asked for (M2 or the slice) or
//    throws a TrustVerificationError with an attack code: never another error, never a hang, never a
//    different manifest. 'unavailable' (a network failure, exit 3) and 'invalid-root' are wrong too:
//    the source always answers and the pinned root is intact. Without keys, an acceptance must also
//    have read only genuine files, except timestamp.json and N.root.json, which TUF does not pin by
//    hash: those may differ in bytes as long as their signed content is the same (whitespace, key
//    order, string escapes, number spellings such as 3.0, a duplicated key whose last value is the
//    genuine one, extra unsigned fields, surplus signatures dropped): signatures cover the canonical
//    form of `signed`, not the bytes, so these are the mutations the protocol tolerates. Every other
//    file is pinned by its parent's sha256 and length; any change to it must be refused.
// 2. No poisoning: when the run changed the device's persisted state, that state still verifies the
//    genuine repository (the same bytes again, no re-bootstrap). An attacker holding the online keys
//    may legitimately move the trusted timestamp/snapshot version forward (a compromised online key
//    can freeze a device until it is rotated: TUF's documented limit); then the genuine repository
//    may be refused as a rollback, but nothing else, and the trusted root never changes.
// Attackers with keys only meet the current device: a fresh device cannot tell an old signed
// publication from a new one, so a compromised snapshot key may roll it back (also by the spec).
//
// A failure prints the input and writes it, as the files served, to a folder that can be copied into
// test/fixtures/fuzz/trust/crash-<name>/, where the corpus test replays it from then on.
// FUZZ_TRUST_WRITE_SEEDS=1 regenerates the seed-* corpus (needed only if the repository built here changes).
import { createHash, createPrivateKey } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { Metadata, MetadataKind, type Root } from '@tufjs/models';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { environmentSlice, serialiseManifest, type Manifest } from '../../src/manifest/manifest.ts';
import { STORE_LAYOUT } from '../../src/store/keys.ts';
import {
  fetchVerifiedManifest,
  TrustVerificationError,
  type TrustFailure,
  type TrustSource,
  type VerifiedManifest,
} from '../../src/trust/client.ts';
import { SigningKey } from '../../src/trust/keys.ts';
import { FolderTrustStore } from '../../src/trust/repository-io.ts';
import {
  initRepository,
  MANIFEST_TARGET,
  publishManifest,
  rotateRoot,
  targetObjectKey,
  TIMESTAMP_KEY,
} from '../../src/trust/repository.ts';
import { ROOT, tempDir } from '../helpers.ts';
import { serveFolder, sha256Hex, type FolderServer } from '../trust/helpers.ts';
import { fuzzParameters, fuzzTimeout } from './budget.ts';

/** Inputs per `npm test` run: ≈10 s at ~110/s on a quiet 2-core machine; under load budget.ts stops it at 15 s. */
const RUNS = 1200;
const SEED = 0x7a0f;
/** A verification that takes this long is a hang. */
const HANG_MS = 10_000;
const CORPUS = join(ROOT, 'test', 'fixtures', 'fuzz', 'trust');

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };
type Path = (string | number)[];
type Attacker = 'none' | 'online' | 'targets';
type DeviceState = 'fresh' | 'stale' | 'current';
type Transport = 'folder' | 'http';
type Role = 'root' | 'timestamp' | 'snapshot' | 'targets';
const LAYERS = ['target', 'targets', 'snapshot', 'timestamp', 'root', 'nextRoot'] as const;
type LayerName = (typeof LAYERS)[number];

type JsonOp =
  | { op: 'set'; node: number; value: number }
  | { op: 'delete'; node: number }
  | { op: 'add'; node: number; name: number; value: number }
  | { op: 'rename'; node: number; name: number }
  | { op: 'nudge'; node: number; delta: number; pos: number }
  | { op: 'copy'; node: number; from: number }
  | { op: 'dup'; node: number }
  | { op: 'raw'; node: number; literal: number }
  | { op: 'nest'; node: number; depth: number; array: boolean }
  | { op: 'delegate'; role: number; paths: number; hide: boolean; terminating: boolean };

type ByteOp =
  | { op: 'flip'; pos: number; bit: number }
  | { op: 'set'; pos: number; byte: number }
  | { op: 'insert'; pos: number; bytes: number[] }
  | { op: 'space'; pos: number; ch: number }
  | { op: 'delete'; pos: number; len: number }
  | { op: 'truncate'; pos: number }
  | { op: 'append'; bytes: number[] }
  | { op: 'grow'; size: number }
  | { op: 'swap'; pos: number; pos2: number }
  | { op: 'bom' }
  | { op: 'utf16' };

interface LayerPlan {
  /** Start from another file (mix-and-match, replay, corpus) instead of the genuine one. */
  replace: number | null;
  json: JsonOp[];
  /** 0 keep the signatures, 1 the real key (if this attacker holds it), 2 an untrusted key, 3 both. */
  resign: number;
  /** 0 publisher's format, 1 compact, 2 4-space CRLF, 3 keys reversed, 4 tabs and escaped letters. */
  style: number;
  bytes: ByteOp[];
}

interface Plan {
  attacker: Attacker;
  state: DeviceState;
  transport: Transport;
  /** Which target the device asks for, and which target file the `target` layer mutates. */
  target: number;
  targetFile: number;
  chain: boolean;
  layers: Record<LayerName, LayerPlan | null>;
}

interface Case {
  attacker: Attacker;
  state: DeviceState;
  transport: Transport;
  target: number;
}

// ---------------------------------------------------------------------------------------------
// the repository

function fixedKey(name: string): SigningKey {
  const seed = createHash('sha256').update(`model-gitops trust fuzz key: ${name}`).digest();
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]); // ed25519 PKCS#8
  return new SigningKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }));
}

const K = {
  root1: fixedKey('root 1'),
  root2: [fixedKey('root 2a'), fixedKey('root 2b'), fixedKey('root 2c')],
  targets: fixedKey('targets'),
  snapshot: fixedKey('snapshot'),
  timestamp: fixedKey('timestamp'),
  /** A key no root lists: what anyone can sign with. */
  intruder: fixedKey('intruder'),
};
const PUBLISH_KEYS = { targets: K.targets, snapshot: K.snapshot, timestamp: K.timestamp };
const T0 = new Date('2025-01-01T00:00:00Z');
const CENTURY = 100 * 365 * 86_400;
const LONG = { root: CENTURY, targets: CENTURY, snapshot: CENTURY, timestamp: CENTURY };
const STATE_FILES = ['root.json', 'timestamp.json', 'snapshot.json', 'targets.json'];
const TARGET_NAMES = [MANIFEST_TARGET, 'environments/production.json', 'environments/staging.json'];

function fileEntry(seed: string) {
  return { path: 'model.safetensors', sha256: sha256Hex(Buffer.from(seed)), size: 1024 + seed.length };
}

function versionEntry(v: string) {
  return {
    files: [fileEntry(`weights ${v}`), { path: 'tokenizer.json', sha256: sha256Hex(Buffer.from(v)), size: 77 }],
    interface: { inputs: [{ name: 'text', dtype: 'string' }], outputs: [{ name: 'label', dtype: 'int64' }] },
    architecture: { family: 'bert', format: 'safetensors', parameters: 110_000_000 },
    lineageDigest: `sha256:${sha256Hex(Buffer.from(`lineage ${v}`))}`,
  };
}

function manifestOf(sequence: number, production: string, staging: string): Manifest {
  const versions = [...new Set(['1.0.0', production, staging])];
  return {
    schemaVersion: 1,
    sequence,
    publishedAt: T0.toISOString(),
    expiresAt: '2125-01-01T00:00:00.000Z',
    source: { repository: 'acme/models', commit: sha256Hex(Buffer.from(`commit ${sequence}`)).slice(0, 40) },
    layout: STORE_LAYOUT,
    environments: {
      production: {
        requires: 'staging',
        models: { 'intent-classifier': { version: production, rollbackWindow: ['1.0.0'] } },
      },
      staging: { models: { 'intent-classifier': { version: staging, canary: { version: production, weight: 10 } } } },
    },
    models: {
      'intent-classifier': { versions: Object.fromEntries(versions.map((v) => [v, versionEntry(v)])) },
    },
  } as unknown as Manifest;
}

function publicationOf(m: Manifest): { manifestBytes: Buffer; extraTargets: Record<string, Buffer> } {
  return {
    manifestBytes: serialiseManifest(m),
    extraTargets: {
      [TARGET_NAMES[1]!]: serialiseManifest(environmentSlice(m, 'production')),
      [TARGET_NAMES[2]!]: serialiseManifest(environmentSlice(m, 'staging')),
    },
  };
}

interface TargetFile {
  name: string;
  key: string;
  bytes: Buffer;
}

interface Fixture {
  dir: string;
  rootV1: Buffer;
  /** Every file of the genuine repository, by store key. */
  original: Map<string, Buffer>;
  /** Publication 1's timestamp.json (overwritten in the store by publication 2). */
  oldTimestamp: Buffer;
  /** Publication 2's signed targets: the manifest and the two slices. */
  targets: TargetFile[];
  states: Record<DeviceState, Map<string, Buffer>>;
  /**
   * Files a layer may start from instead of its own: the repository's, the old timestamp, and the corpus
   * entries of attackers holding no more keys (a replayed file signed with a key is that key's power).
   */
  replacements: Record<Attacker, Buffer[]>;
  values: Json[];
  /** The value pool for an attacker holding the targets key: without any target file's hash. */
  valuesSafe: Json[];
}

/** What buildRepository makes; the rest of a Fixture is derived from it. */
type Repository = Omit<Fixture, 'states' | 'replacements' | 'values' | 'valuesSafe'>;

function listFiles(dir: string, base = dir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(join(dir, e.name), base) : [relative(base, join(dir, e.name)).split('\\').join('/')],
  );
}

async function buildRepository(dir: string): Promise<Repository> {
  const io = new FolderTrustStore(dir);
  const { rootBytes } = await initRepository({
    io,
    rootKeys: [K.root1],
    rootThreshold: 1,
    targetsKeys: [K.targets],
    snapshotKey: K.snapshot,
    timestampKey: K.timestamp,
    now: T0,
    expiries: LONG,
  });
  const m1 = manifestOf(1, '1.1.0', '1.2.0');
  await publishManifest({
    io,
    ...publicationOf(m1),
    keys: PUBLISH_KEYS,
    now: T0,
    expiries: { ...LONG, timestamp: 86_400 }, // expired on 2025-01-02
  });
  const oldTimestamp = (await io.get(TIMESTAMP_KEY))!;
  await rotateRoot({
    io,
    oldRootKeys: [K.root1],
    newRootKeys: K.root2,
    newRootThreshold: 2,
    now: T0,
    expiries: LONG,
  });
  const m2 = manifestOf(2, '1.2.0', '1.3.0');
  const pub = publicationOf(m2);
  await publishManifest({ io, ...pub, keys: PUBLISH_KEYS, now: new Date(T0.getTime() + 3_600_000), expiries: LONG });
  const original = new Map(listFiles(dir).map((k) => [k, readFileSync(join(dir, k))]));
  const targets = TARGET_NAMES.map((name) => {
    const bytes = name === MANIFEST_TARGET ? pub.manifestBytes : pub.extraTargets[name]!;
    return { name, key: targetObjectKey(name, sha256Hex(bytes)), bytes };
  });
  return { dir, rootV1: rootBytes, original, oldTimestamp, targets };
}

/** Every value the structured mutations draw from. */
function valuePool(f: Repository, withTargetHashes: boolean): Json[] {
  const pool: Json[] = [
    ...[null, true, false, [], {}, [1], [null], ['x'], { a: 1 }],
    ...[0, -1, 1, 2, 3, 4, 0.5, 1.5, 2 ** 31, 2 ** 32, 2 ** 53 - 1, 2 ** 53, 1e21, Number.MAX_VALUE],
    ...['', '0', '1', '3', 'a', 'x'.repeat(5000), 'root', 'timestamp', 'snapshot', 'targets', 'delegated'],
    ...['1.0.31', '1.0', '2.0.0', '0.9', 'a.b.c', 'ed25519', 'rsa', 'ecdsa-sha2-nistp256', 'sha256', 'sha512', 'md5'],
    ...['1970-01-01T00:00:00Z', '2024-12-31T23:59:59Z', '2999-12-31T23:59:59Z', '9999-99-99T99:99:99Z', '2030'],
    ...['not a date', '+275760-09-13T00:00:00.000Z', '2030-02-30T00:00:00Z'],
    ...['0'.repeat(64), 'f'.repeat(64), 'g'.repeat(64), '0'.repeat(128), { sha256: '0'.repeat(64) }],
    ...[{ sha512: '0'.repeat(128) }, { 'snapshot.json': { version: 1 } }, { 'targets.json': { version: 1 } }],
    ...[{ version: 1 }, { version: 3, length: 1, hashes: {} }, { keyids: [K.intruder.keyId], threshold: 1 }],
    { keyid: K.intruder.keyId, sig: '0'.repeat(128) },
    { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: K.intruder.publicHex } },
  ];
  for (const k of [K.root1, ...K.root2, K.targets, K.snapshot, K.timestamp, K.intruder])
    pool.push(k.keyId, k.publicHex);
  const targetKeys = new Set(f.targets.map((t) => t.key));
  for (const [key, bytes] of f.original) {
    const isTarget = key.startsWith('targets/');
    if (isTarget && !withTargetHashes) continue;
    pool.push(sha256Hex(bytes), bytes.length);
    if (targetKeys.has(key)) pool.push(sha256Hex(bytes).toUpperCase());
    if (!isTarget) {
      const doc = JSON.parse(bytes.toString('utf8')) as { signatures: Json[]; signed: JsonObject };
      pool.push(doc.signatures, ...doc.signatures.map((s) => (s as JsonObject)['sig'] ?? null));
      if (doc.signed['keys']) pool.push(doc.signed['keys'], doc.signed['roles'] ?? null);
      if (doc.signed['meta']) pool.push(doc.signed['meta']);
    }
  }
  return pool;
}

const NAMES = [
  ...['_type', 'version', 'expires', 'spec_version', 'meta', 'signed', 'signatures', 'keyid', 'sig', 'keys', 'roles'],
  ...['keyids', 'threshold', 'consistent_snapshot', 'targets', 'length', 'hashes', 'sha256', 'sha512', 'custom'],
  ...['snapshot.json', 'targets.json', 'root.json', 'manifest.json', 'environments/production.json', 'delegations'],
  ...['x-extra', '__proto__', 'constructor', 'toString', '', ' version', 'VERSION'],
];
const ROLE_NAMES = ['a', 'delegated', '../x', 'a/b', 'a\\b', '', '%2e%2e', '..', 'x'.repeat(300), 'nul\u0000', 'é'];
const PATH_PATTERNS: Json[] = [['*'], ['environments/*'], ['manifest.json'], [], ['*', '**/*']];

/** Text that replaces a value at serialisation: other spellings of it, values JSON.parse alone can produce, broken JSON. */
const RAW: ((json: string, key: string | undefined) => string)[] = [
  () => '1e999',
  () => '-1e999',
  () => '123456789012345678901234567890',
  () => '9007199254740993',
  () => '-0',
  (j) => (/^-?\d+$/.test(j) ? `${j}.0` : j), // same number: tolerated
  (j) => (/^-?\d+$/.test(j) ? `${j}e0` : j), // same number: tolerated
  (j) => (/^\d+$/.test(j) ? `0${j}` : j), // not JSON
  () => 'NaN',
  () => 'undefined',
  (j) => (/^"[A-Za-z]/.test(j) ? `"\\u00${j.charCodeAt(1).toString(16)}${j.slice(2)}` : j), // same string
  () => '"\\ud800"',
  () => '"\\u0000"',
  (j, k) => (k === undefined ? j : `0, ${JSON.stringify(k)}: ${j}`), // duplicate key, genuine value last
  (j, k) => (k === undefined ? j : `${j}, ${JSON.stringify(k)}: 0`), // duplicate key, decoy last
  (j, k) => (k === undefined ? j : `${j}, ${JSON.stringify(k)}: ${j}`), // the same key twice
];

// ---------------------------------------------------------------------------------------------
// JSON trees

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const clone = <T extends Json>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
const pick = <T>(list: readonly T[], i: number): T => list[i % list.length]!;

/** Own-property assignment, so '__proto__' becomes a key as JSON.parse would make it. */
function put(o: JsonObject, k: string, v: Json): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

function getAt(box: { v: Json }, path: Path): Json | undefined {
  let cur: Json | undefined = box as unknown as Json;
  for (const k of path) {
    if (Array.isArray(cur) && typeof k === 'number') cur = cur[k];
    else if (isObject(cur) && typeof k === 'string' && Object.hasOwn(cur, k)) cur = cur[k];
    else return undefined;
  }
  return cur;
}

function setAt(box: { v: Json }, path: Path, value: Json): void {
  const parent = getAt(box, path.slice(0, -1));
  const k = path.at(-1);
  if (Array.isArray(parent) && typeof k === 'number') parent[k] = value;
  else if (isObject(parent) && typeof k === 'string') put(parent, k, value);
}

function nodesOf(box: { v: Json }): Path[] {
  const out: Path[] = [];
  const stack: Path[] = [['v']];
  while (stack.length > 0 && out.length < 20_000) {
    const p = stack.pop()!;
    out.push(p);
    const v = getAt(box, p);
    if (Array.isArray(v)) for (let i = v.length - 1; i >= 0; i--) stack.push([...p, i]);
    else if (isObject(v)) for (const k of Object.keys(v).reverse()) stack.push([...p, k]);
  }
  return out;
}

function stableStringify(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableStringify).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableStringify(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'undefined';
}

function reverseKeys(v: Json): Json {
  if (Array.isArray(v)) return v.map(reverseKeys);
  if (!isObject(v)) return v;
  const o: JsonObject = {};
  for (const k of Object.keys(v).reverse()) put(o, k, reverseKeys(v[k]!));
  return o;
}

interface Sub {
  path: Path;
  make: (json: string, key: string | undefined) => string;
}

function applyJsonOps(box: { v: Json }, ops: readonly JsonOp[], pool: readonly Json[]): Sub[] {
  const subs: Sub[] = [];
  for (const op of ops) {
    if (op.op === 'delegate') {
      const signed = isObject(box.v) ? box.v['signed'] : undefined;
      if (!isObject(signed)) continue;
      const keyJson = { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: K.intruder.publicHex } };
      put(signed, 'delegations', {
        keys: { [K.intruder.keyId]: keyJson },
        roles: [
          {
            name: pick(ROLE_NAMES, op.role),
            keyids: [K.intruder.keyId],
            threshold: 1,
            paths: clone(pick(PATH_PATTERNS, op.paths)),
            terminating: op.terminating,
          },
        ],
      });
      if (op.hide) put(signed, 'targets', {});
      continue;
    }
    const nodes = nodesOf(box);
    const p = pick(nodes, op.node);
    const cur = getAt(box, p);
    const parent = getAt(box, p.slice(0, -1));
    const last = p.at(-1);
    switch (op.op) {
      case 'set':
        setAt(box, p, clone(pick(pool, op.value)));
        break;
      case 'delete':
        if (Array.isArray(parent) && typeof last === 'number') parent.splice(last, 1);
        else if (isObject(parent) && typeof last === 'string' && p.length > 1) delete parent[last];
        break;
      case 'add':
        if (Array.isArray(cur)) cur.push(clone(pick(pool, op.value)));
        else if (isObject(cur)) put(cur, pick(NAMES, op.name), clone(pick(pool, op.value)));
        break;
      case 'rename':
        if (isObject(parent) && typeof last === 'string' && p.length > 1 && cur !== undefined) {
          delete parent[last];
          put(parent, pick(NAMES, op.name), cur);
        }
        break;
      case 'nudge':
        if (typeof cur === 'number') setAt(box, p, cur + op.delta);
        else if (typeof cur === 'boolean') setAt(box, p, !cur);
        else if (typeof cur === 'string' && cur.length > 0) {
          const i = op.pos % cur.length;
          const c = cur[i]!;
          const next = /[0-9a-f]/.test(c)
            ? c === 'f'
              ? '0'
              : (parseInt(c, 16) + 1).toString(16)
            : String.fromCharCode(c.charCodeAt(0) + 1);
          setAt(box, p, cur.slice(0, i) + next + cur.slice(i + 1));
        } else if (Array.isArray(cur)) cur.reverse();
        else if (cur === null) setAt(box, p, 0);
        break;
      case 'copy': {
        const from = getAt(box, pick(nodes, op.from));
        if (from !== undefined) setAt(box, p, clone(from));
        break;
      }
      case 'dup':
        if (Array.isArray(parent) && typeof last === 'number' && cur !== undefined)
          parent.splice(last + 1, 0, clone(cur));
        break;
      case 'raw':
        subs.push({ path: p, make: pick(RAW, op.literal) });
        break;
      case 'nest': {
        const [open, close] = op.array ? ['[', ']'] : ['{"a":', '}'];
        subs.push({ path: p, make: (j) => open.repeat(op.depth) + j + close.repeat(op.depth) });
        break;
      }
    }
  }
  return subs;
}

function serialize(box: { v: Json }, style: number, subs: readonly Sub[]): Buffer {
  const b = { v: clone(box.v) };
  const texts: string[] = [];
  subs.forEach((s, i) => {
    const cur = getAt(b, s.path);
    if (cur === undefined || s.path.length < 2) return;
    const k = s.path.at(-1);
    texts[i] = s.make(JSON.stringify(cur), typeof k === 'string' ? k : undefined);
    setAt(b, s.path, `@@SUB${i}@@`);
  });
  const v = style % 5 === 3 ? reverseKeys(b.v) : b.v;
  let text: string;
  switch (style % 5) {
    case 1:
    case 3:
      text = JSON.stringify(v);
      break;
    case 2:
      text = JSON.stringify(v, null, 4).replace(/\n/g, '\r\n');
      break;
    case 4:
      text = JSON.stringify(v, null, '\t').replace(
        /"([A-Za-z])/g,
        (_m, c: string) => `"\\u00${c.charCodeAt(0).toString(16)}`,
      );
      break;
    default:
      text = `${JSON.stringify(v, null, 2)}\n`;
  }
  texts.forEach((t, i) => {
    text = text.split(`"@@SUB${i}@@"`).join(t);
  });
  return Buffer.from(text);
}

function applyBytes(input: Buffer, ops: readonly ByteOp[]): Buffer {
  let x = Buffer.from(input);
  for (const op of ops) {
    const n = x.length;
    switch (op.op) {
      case 'flip':
        if (n > 0) x[op.pos % n]! ^= 1 << op.bit;
        break;
      case 'set':
        if (n > 0) x[op.pos % n] = op.byte;
        break;
      case 'insert':
      case 'space': {
        const at = op.pos % (n + 1);
        const ins = op.op === 'insert' ? Buffer.from(op.bytes) : Buffer.from([pick([0x20, 0x0a, 0x09, 0x0d], op.ch)]);
        x = Buffer.concat([x.subarray(0, at), ins, x.subarray(at)]);
        break;
      }
      case 'delete':
        if (n > 0) {
          const at = op.pos % n;
          x = Buffer.concat([x.subarray(0, at), x.subarray(at + op.len)]);
        }
        break;
      case 'truncate':
        x = x.subarray(0, op.pos % (n + 1));
        break;
      case 'append':
        x = Buffer.concat([x, Buffer.from(op.bytes)]);
        break;
      case 'grow':
        x = Buffer.concat([x, Buffer.alloc(op.size, 0x20)]);
        break;
      case 'swap':
        if (n > 0) {
          const i = op.pos % n;
          const j = op.pos2 % n;
          [x[i], x[j]] = [x[j]!, x[i]!];
        }
        break;
      case 'bom':
        x = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), x]);
        break;
      case 'utf16':
        x = Buffer.from(x.toString('utf8'), 'utf16le');
        break;
    }
  }
  return x;
}

/** Sign `box` as `role` with `keys` (dropping its signatures), over what a client will canonicalise. */
function resignDoc(box: { v: Json }, role: Role, keys: readonly SigningKey[]): void {
  if (!isObject(box.v) || keys.length === 0) return;
  let md: Metadata<Root>;
  try {
    md = Metadata.fromJSON(role as MetadataKind.Root, { ...box.v, signatures: [] } as never);
    for (const k of keys) md.sign(k.signer);
  } catch {
    return; // not metadata of that role, or not canonicalisable (floats): nobody can sign it, leave it
  }
  put(
    box.v,
    'signatures',
    Object.values(md.signatures).map((s) => s.toJSON() as Json),
  );
}

// ---------------------------------------------------------------------------------------------
// plans -> the files served

const NO_LAYER: LayerPlan = { replace: null, json: [], resign: 1, style: 0, bytes: [] };

function caseOf(plan: Plan): Case {
  // Attackers with keys meet only the current device (see the header).
  const state = plan.attacker === 'none' ? plan.state : 'current';
  return { attacker: plan.attacker, state, transport: plan.transport, target: plan.target % TARGET_NAMES.length };
}

function positiveVersion(box: { v: Json } | undefined): number | undefined {
  const signed = box && isObject(box.v) ? box.v['signed'] : undefined;
  const v = isObject(signed) ? signed['version'] : undefined;
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 1 ? v : undefined;
}

interface Built {
  bytes: Buffer;
  box: { v: Json } | undefined;
}

function buildLayer(
  genuine: Buffer,
  layer: LayerPlan,
  role: Role | undefined,
  signers: readonly SigningKey[],
  pool: readonly Json[],
  replaceFrom: readonly Buffer[] | undefined,
  edit?: (signed: JsonObject) => void,
): Built {
  const base = replaceFrom && layer.replace !== null ? pick(replaceFrom, layer.replace) : genuine;
  let box: { v: Json } | undefined;
  try {
    box = { v: JSON.parse(base.toString('utf8')) as Json };
  } catch {
    return { bytes: applyBytes(base, layer.bytes), box: undefined }; // not JSON: bytes only
  }
  const signed = isObject(box.v) ? box.v['signed'] : undefined;
  if (edit && isObject(signed)) edit(signed);
  const subs = applyJsonOps(box, layer.json, pool);
  if (role) resignDoc(box, role, signers);
  const untouched = !edit && layer.json.length === 0 && signers.length === 0 && layer.style === 0;
  const text = untouched ? base : serialize(box, layer.style, subs);
  return { bytes: applyBytes(text, layer.bytes), box };
}

function pointAt(signed: JsonObject, name: string, version: number, bytes: Buffer): void {
  let meta = signed['meta'];
  if (!isObject(meta)) {
    meta = {};
    put(signed, 'meta', meta);
  }
  put(meta, name, { version, length: bytes.length, hashes: { sha256: sha256Hex(bytes) } });
}

/** The files an input serves on top of the genuine repository (null: removed). */
function materialize(plan: Plan, f: Fixture): Map<string, Buffer | null> {
  const c = caseOf(plan);
  const files = new Map<string, Buffer | null>();
  const L = plan.layers;
  const realKey: Record<Role, SigningKey | undefined> = {
    root: undefined,
    timestamp: c.attacker === 'none' ? undefined : K.timestamp,
    snapshot: c.attacker === 'none' ? undefined : K.snapshot,
    targets: c.attacker === 'targets' ? K.targets : undefined,
  };
  const signersFor = (role: Role, layer: LayerPlan): SigningKey[] => {
    const real = realKey[role];
    const mode = layer.resign % 4;
    return [...(real && (mode === 1 || mode === 3) ? [real] : []), ...(mode >= 2 ? [K.intruder] : [])];
  };
  // An attacker holding the targets key must not be able to point at another genuine target
  // (publication 1's manifest): that would be a legitimate acceptance, not a finding.
  const pool = c.attacker === 'targets' ? f.valuesSafe : f.values;
  const from = f.replacements[c.attacker];
  const genuine = (key: string) => f.original.get(key)!;

  if (L.target) {
    const t = f.targets[plan.targetFile % f.targets.length]!;
    files.set(t.key, buildLayer(t.bytes, L.target, undefined, [], pool, from).bytes);
  }

  let targets = { version: 2, bytes: genuine('metadata/2.targets.json'), changed: false, roles: [] as string[] };
  if (L.targets) {
    const b = buildLayer(
      targets.bytes,
      L.targets,
      'targets',
      signersFor('targets', L.targets),
      pool,
      c.attacker === 'targets' ? undefined : from,
      plan.chain && realKey.targets ? (s) => put(s, 'version', 3) : undefined,
    );
    const version = plan.chain ? (positiveVersion(b.box) ?? (realKey.targets ? 3 : 2)) : 2;
    const signed = b.box && isObject(b.box.v) ? b.box.v['signed'] : undefined;
    const delegations = isObject(signed) ? signed['delegations'] : undefined;
    const roles = isObject(delegations) && Array.isArray(delegations['roles']) ? delegations['roles'] : [];
    targets = {
      version,
      bytes: b.bytes,
      changed: true,
      roles: roles.flatMap((r) => (isObject(r) && typeof r['name'] === 'string' ? [r['name']] : [])),
    };
    files.set(`metadata/${version}.targets.json`, b.bytes);
  }

  let snapshot = { version: 2, bytes: genuine('metadata/2.snapshot.json'), changed: false };
  const chainSnapshot = plan.chain && targets.changed;
  if (L.snapshot || chainSnapshot) {
    const layer = L.snapshot ?? NO_LAYER;
    const b = buildLayer(
      snapshot.bytes,
      layer,
      'snapshot',
      signersFor('snapshot', layer),
      pool,
      from,
      plan.chain
        ? (s) => {
            if (realKey.snapshot) put(s, 'version', 3);
            if (chainSnapshot) {
              pointAt(s, 'targets.json', targets.version, targets.bytes);
              for (const r of targets.roles) put(s['meta'] as JsonObject, `${r}.json`, { version: 1 });
            }
          }
        : undefined,
    );
    const version = plan.chain ? (positiveVersion(b.box) ?? (realKey.snapshot ? 3 : 2)) : 2;
    snapshot = { version, bytes: b.bytes, changed: true };
    files.set(`metadata/${version}.snapshot.json`, b.bytes);
  }

  const chainTimestamp = plan.chain && snapshot.changed;
  if (L.timestamp || chainTimestamp) {
    const layer = L.timestamp ?? NO_LAYER;
    const b = buildLayer(
      genuine(TIMESTAMP_KEY),
      layer,
      'timestamp',
      signersFor('timestamp', layer),
      pool,
      from,
      plan.chain
        ? (s) => {
            if (realKey.timestamp) put(s, 'version', 3);
            if (chainTimestamp) pointAt(s, 'snapshot.json', snapshot.version, snapshot.bytes);
          }
        : undefined,
    );
    files.set(TIMESTAMP_KEY, b.bytes);
  }

  if (L.root) {
    files.set(
      'metadata/2.root.json',
      buildLayer(genuine('metadata/2.root.json'), L.root, 'root', signersFor('root', L.root), pool, from).bytes,
    );
  }
  if (L.nextRoot) {
    const b = buildLayer(
      genuine('metadata/2.root.json'),
      L.nextRoot,
      'root',
      signersFor('root', L.nextRoot),
      pool,
      from,
      (s) => put(s, 'version', 3),
    );
    files.set('metadata/3.root.json', b.bytes);
  }
  return files;
}

// ---------------------------------------------------------------------------------------------
// arbitraries

const nat = fc.nat();
const jsonOpArb: fc.Arbitrary<JsonOp> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('set' as const), node: nat, value: nat }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), node: nat }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('add' as const), node: nat, name: nat, value: nat }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('rename' as const), node: nat, name: nat }) },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('nudge' as const),
      node: nat,
      delta: fc.constantFrom(-1, 1, 2, -2, 1000, 2 ** 32, 2 ** 53, 0.5),
      pos: nat,
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('copy' as const), node: nat, from: nat }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('dup' as const), node: nat }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('raw' as const), node: nat, literal: nat }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('nest' as const),
      node: nat,
      depth: fc.constantFrom(1, 3, 64, 20_000),
      array: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('delegate' as const),
      role: nat,
      paths: nat,
      hide: fc.boolean(),
      terminating: fc.boolean(),
    }),
  },
);

const byte = fc.integer({ min: 0, max: 255 });
const byteOpArb: fc.Arbitrary<ByteOp> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ op: fc.constant('flip' as const), pos: nat, bit: fc.integer({ min: 0, max: 7 }) }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('set' as const), pos: nat, byte }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('insert' as const),
      pos: nat,
      bytes: fc.array(byte, { minLength: 1, maxLength: 8 }),
    }),
  },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('space' as const), pos: nat, ch: nat }) },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('delete' as const), pos: nat, len: fc.integer({ min: 1, max: 16 }) }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('truncate' as const), pos: nat }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('append' as const), bytes: fc.array(byte, { maxLength: 8 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('grow' as const), size: fc.constantFrom(1, 100, 16_385) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('grow' as const), size: fc.constant(520_000) }) }, // past root's cap
  { weight: 1, arbitrary: fc.record({ op: fc.constant('swap' as const), pos: nat, pos2: nat }) },
  { weight: 1, arbitrary: fc.constant({ op: 'bom' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'utf16' as const }) },
);

const layerArb: fc.Arbitrary<LayerPlan> = fc.record({
  replace: fc.oneof({ weight: 5, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: nat }),
  json: fc.oneof(
    { weight: 1, arbitrary: fc.constant<JsonOp[]>([]) },
    { weight: 3, arbitrary: fc.array(jsonOpArb, { minLength: 1, maxLength: 3 }) },
  ),
  resign: fc.constantFrom(1, 1, 1, 0, 2, 3),
  style: fc.constantFrom(0, 0, 0, 0, 1, 2, 3, 4),
  bytes: fc.oneof(
    { weight: 3, arbitrary: fc.constant<ByteOp[]>([]) },
    { weight: 1, arbitrary: fc.array(byteOpArb, { minLength: 1, maxLength: 2 }) },
  ),
});

const maybeLayer = fc.oneof({ weight: 2, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: layerArb });

const planArb: fc.Arbitrary<Plan> = fc
  .record({
    attacker: fc.constantFrom<Attacker>('none', 'none', 'none', 'online', 'online', 'targets'),
    state: fc.constantFrom<DeviceState>('fresh', 'stale', 'current'),
    transport: fc.constantFrom<Transport>('folder', 'folder', 'folder', 'http'),
    target: fc.nat({ max: 2 }),
    targetFile: fc.nat({ max: 2 }),
    chain: fc.constantFrom(true, true, true, true, false),
    layers: fc.record({
      target: maybeLayer,
      targets: maybeLayer,
      snapshot: maybeLayer,
      timestamp: maybeLayer,
      root: fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: layerArb }),
      nextRoot: fc.oneof({ weight: 6, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: layerArb }),
    }),
  })
  .filter((p) => Object.values(p.layers).some((l) => l !== null)); // the genuine repository is tested on its own

// ---------------------------------------------------------------------------------------------
// running one input

/** The TUF errors a refusal may carry here: 'unavailable' and 'invalid-root' would be misdiagnoses. */
const ATTACK_CODES = new Set<TrustFailure>([
  'tampered',
  'unsigned',
  'rollback',
  'freeze',
  'mix-and-match',
  'endless-data',
  'not-found',
  'invalid',
]);
const UNPINNED = /^metadata\/(timestamp|\d+\.root)\.json$/;

class RecordingStore extends FolderTrustStore {
  reads: { key: string; bytes: Buffer | undefined }[] = [];
  override async get(key: string): Promise<Buffer | undefined> {
    const bytes = await super.get(key);
    this.reads.push({ key, bytes });
    return bytes;
  }
}

class Hang extends Error {}

async function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_ok, fail) => {
    timer = setTimeout(() => fail(new Hang(`no answer after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, hang]);
  } finally {
    clearTimeout(timer);
  }
}

type Outcome = { accepted: true } | { accepted: false; code: TrustFailure };

interface Served {
  files: Map<string, Buffer | null>;
  /** HTTP only: paths answered with a body that never ends. */
  endless?: readonly string[];
}

interface Runner {
  f: Fixture;
  server: FolderServer;
  stateDir: string;
  stats: Map<string, number>;
  /** Re-verification of the genuine repository from a persisted state, by target and state digest. */
  verdicts: Map<string, string>;
}

function signedContent(bytes: Buffer, key: string): string | undefined {
  try {
    const kind = key === TIMESTAMP_KEY ? MetadataKind.Timestamp : MetadataKind.Root;
    return stableStringify(
      Metadata.fromJSON(kind as MetadataKind.Root, JSON.parse(bytes.toString('utf8'))).signed.toJSON(),
    );
  } catch {
    return undefined;
  }
}

function resetState(dir: string, template: Map<string, Buffer>): void {
  for (const name of readdirSync(dir)) rmSync(join(dir, name), { recursive: true, force: true });
  for (const [name, bytes] of template) writeFileSync(join(dir, name), bytes);
}

function readState(dir: string): Map<string, Buffer> {
  return new Map(readdirSync(dir).map((name) => [name, readFileSync(join(dir, name))]));
}

function stateDigest(state: Map<string, Buffer>): string {
  const h = createHash('sha256');
  for (const [name, bytes] of [...state].sort(([a], [b]) => a.localeCompare(b)))
    h.update(`${name}\0${bytes.length}\0`).update(bytes);
  return h.digest('hex');
}

function sameState(a: Map<string, Buffer>, b: Map<string, Buffer>): boolean {
  return a.size === b.size && [...a].every(([k, v]) => b.get(k)?.equals(v) ?? false);
}

function streamForever(_req: unknown, res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  const pump = (): void => {
    while (res.write(chunk)) {
      /* until the socket buffer is full */
    }
  };
  res.on('drain', pump);
  res.on('close', () => res.off('drain', pump));
  pump();
}

const LAST_FAILURE = join(tmpdir(), 'mg-trust-fuzz-failure');

/** Write a failing input as a corpus entry (the files served + seed.json) and describe it. */
function dumpFailure(c: Case, served: Served, plan: Plan | undefined, why: string): string {
  rmSync(LAST_FAILURE, { recursive: true, force: true });
  for (const [key, bytes] of served.files) {
    if (bytes === null) continue;
    mkdirSync(dirname(join(LAST_FAILURE, key)), { recursive: true });
    writeFileSync(join(LAST_FAILURE, key), bytes);
  }
  const spec: SeedSpec = {
    description: `found by the fuzzer: ${why.split('\n')[0]}`,
    attacker: c.attacker,
    state: c.state,
    transport: c.transport,
    target: TARGET_NAMES[c.target]!,
    remove: [...served.files].filter(([, b]) => b === null).map(([k]) => k),
    ...(served.endless?.length ? { endless: [...served.endless] } : {}),
    ...(plan ? { plan } : {}),
  };
  writeFileSync(join(LAST_FAILURE, 'seed.json'), `${JSON.stringify(spec, null, 2)}\n`);
  return `${why}\n  the files served are in ${LAST_FAILURE}: keep it as a regression input with\n  cp -r ${LAST_FAILURE} test/fixtures/fuzz/trust/crash-<name>`;
}

function describeError(e: unknown): string {
  if (e instanceof Error)
    return `${e.name}${e instanceof TrustVerificationError ? ` (${e.code})` : ''}: ${e.stack ?? e.message}`;
  return String(e);
}

/** Serve `served` to a device in state `c.state`, check both properties, restore the repository. */
async function attempt(r: Runner, c: Case, served: Served, plan?: Plan): Promise<Outcome> {
  const { f, server, stateDir } = r;
  const expected = f.targets[c.target]!;
  const fail = (why: string): never => {
    throw new Error(dumpFailure(c, served, plan, why));
  };
  for (const [key, bytes] of served.files) {
    const p = join(f.dir, key);
    if (bytes === null) rmSync(p, { force: true });
    else {
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, bytes);
    }
  }
  for (const path of served.endless ?? []) server.overrides.set(`/${path}`, streamForever);
  const template = f.states[c.state];
  resetState(stateDir, template);
  const store = new RecordingStore(f.dir);
  server.hits.length = 0;
  const source: TrustSource = c.transport === 'http' ? server.url : store;

  let result: VerifiedManifest | undefined;
  let error: unknown;
  try {
    result = await within(
      fetchVerifiedManifest({ trustedRoot: f.rootV1, stateDir, source, target: expected.name, timeoutMs: 5_000 }),
      HANG_MS,
    );
  } catch (e) {
    error = e;
  } finally {
    for (const [key] of served.files) {
      const genuine = f.original.get(key);
      if (genuine) writeFileSync(join(f.dir, key), genuine);
      else rmSync(join(f.dir, key), { force: true });
    }
    for (const path of served.endless ?? []) server.overrides.delete(`/${path}`);
  }

  // Property 1: the genuine target, or a refusal with an attack code.
  let outcome: Outcome;
  if (error instanceof Hang) fail(`hang: fetchVerifiedManifest gave no answer within ${HANG_MS} ms`);
  if (result) {
    if (!result.manifestBytes.equals(expected.bytes))
      fail(
        `accepted a different ${expected.name}: ${result.manifestBytes.length} bytes, sha256 ${sha256Hex(result.manifestBytes)} ` +
          `(genuine: ${expected.bytes.length} bytes, ${sha256Hex(expected.bytes)})`,
      );
    if (
      result.sha256 !== sha256Hex(expected.bytes) ||
      result.length !== expected.bytes.length ||
      !isDeepStrictEqual(result.manifest, JSON.parse(expected.bytes.toString('utf8')))
    )
      fail(
        `accepted ${expected.name} but reported sha256 ${result.sha256}, length ${result.length} or a different parse`,
      );
    if (c.attacker === 'none') {
      const reads =
        c.transport === 'http'
          ? server.hits.map((h) => {
              const key = h.replace(/^\//, '');
              const s = served.files.get(key);
              return { key, bytes: s === undefined ? f.original.get(key) : (s ?? undefined) };
            })
          : store.reads;
      for (const { key, bytes } of reads) {
        if (bytes === undefined) continue;
        const genuine = f.original.get(key);
        if (genuine?.equals(bytes)) continue;
        const tolerated =
          genuine !== undefined &&
          UNPINNED.test(key) &&
          signedContent(bytes, key) !== undefined &&
          signedContent(bytes, key) === signedContent(genuine, key);
        if (!tolerated)
          fail(
            `accepted although ${key} (${bytes.length} bytes) is not the genuine file and no key holder signed its content`,
          );
      }
    }
    outcome = { accepted: true };
  } else {
    if (!(error instanceof TrustVerificationError)) fail(`not a TrustVerificationError: ${describeError(error)}`);
    const e = error as TrustVerificationError;
    if (!ATTACK_CODES.has(e.code))
      fail(`refused with code '${e.code}', which misdiagnoses an attack: ${describeError(e)}`);
    outcome = { accepted: false, code: e.code };
  }

  // Property 2: what the device persisted still verifies the genuine repository. The answer depends only
  // on the state's bytes and the target, so each distinct state is verified once.
  const after = readState(stateDir);
  if (!sameState(after, template)) {
    const memo = `${c.target}:${stateDigest(after)}`;
    let verdict = r.verdicts.get(memo);
    if (verdict === undefined) {
      try {
        const again = await within(
          fetchVerifiedManifest({ trustedRoot: f.rootV1, stateDir, source: f.dir, target: expected.name }),
          HANG_MS,
        );
        verdict = !again.manifestBytes.equals(expected.bytes)
          ? 'a different manifest'
          : again.rebootstrapped
            ? 'rebootstrapped (the state was unusable)'
            : 'ok';
      } catch (e) {
        verdict = e instanceof TrustVerificationError && e.code === 'rollback' ? 'rollback' : describeError(e);
      }
      r.verdicts.set(memo, verdict);
    }
    if (c.attacker === 'none') {
      if (verdict !== 'ok')
        fail(
          `poisoned: after this input the device's trusted state no longer verifies the genuine repository: ${verdict}`,
        );
    } else {
      if (verdict !== 'ok' && verdict !== 'rollback')
        fail(`poisoned: after this input the genuine repository is refused: ${verdict}`);
      if (!after.get('root.json')?.equals(template.get('root.json')!))
        fail('the trusted root changed without root keys');
    }
  }
  const label = outcome.accepted ? 'accepted' : outcome.code;
  r.stats.set(label, (r.stats.get(label) ?? 0) + 1);
  return outcome;
}

// ---------------------------------------------------------------------------------------------
// the corpus

interface SeedSpec {
  description: string;
  attacker: Attacker;
  state: DeviceState;
  transport: Transport;
  target: string;
  /** 'accept', or the code the refusal must carry. Absent for crash inputs: the properties suffice. */
  expect?: 'accept' | TrustFailure;
  remove?: string[];
  endless?: string[];
  plan?: Plan;
}

function loadSeed(dir: string): { spec: SeedSpec; served: Served } {
  const spec = JSON.parse(readFileSync(join(dir, 'seed.json'), 'utf8')) as SeedSpec;
  const files = new Map<string, Buffer | null>();
  for (const key of listFiles(dir)) if (key !== 'seed.json') files.set(key, readFileSync(join(dir, key)));
  for (const key of spec.remove ?? []) files.set(key, null);
  return { spec, served: { files, ...(spec.endless ? { endless: spec.endless } : {}) } };
}

const corpusNames = existsSync(CORPUS)
  ? readdirSync(CORPUS)
      .filter((n) => existsSync(join(CORPUS, n, 'seed.json')))
      .sort()
  : [];

const KEYS_HELD: Record<Attacker, number> = { none: 0, online: 1, targets: 2 };

/** Files of the corpus entries whose attacker holds no more keys than `attacker`. */
function corpusFiles(attacker: Attacker): Buffer[] {
  return corpusNames.flatMap((n) =>
    KEYS_HELD[loadSeed(join(CORPUS, n)).spec.attacker] > KEYS_HELD[attacker]
      ? []
      : listFiles(join(CORPUS, n))
          .filter((k) => k !== 'seed.json' && statSync(join(CORPUS, n, k)).size < 100_000)
          .map((k) => readFileSync(join(CORPUS, n, k))),
  );
}

/** The seed corpus, built from the genuine repository with the keys each attacker holds. */
function seedRecipes(f: Fixture): Record<string, { spec: Omit<SeedSpec, 'remove'>; files: Record<string, Buffer> }> {
  const g = (key: string) => f.original.get(key)!;
  const doc = (b: Buffer) => JSON.parse(b.toString('utf8')) as { signed: JsonObject; signatures: Json[] };
  const sign = (role: Role, d: { signed: JsonObject; signatures: Json[] }, keys: SigningKey[]) => {
    const box = { v: d as unknown as Json };
    resignDoc(box, role, keys);
    return Buffer.from(`${JSON.stringify(box.v, null, 2)}\n`);
  };
  const meta = (version: number, b: Buffer) => ({ version, length: b.length, hashes: { sha256: sha256Hex(b) } });
  const [manifest, production, staging] = f.targets as [TargetFile, TargetFile, TargetFile];

  // The online keys forge a publication around targets they cannot sign.
  const evil = Buffer.from(production.bytes.toString('utf8').replace('"version":"1.2.0"', '"version":"6.6.6"'));
  const forge = (targetsSigners: SigningKey[] | 'keep') => {
    const t = doc(g('metadata/2.targets.json'));
    t.signed['version'] = 3;
    (t.signed['targets'] as JsonObject)[production.name] = { length: evil.length, hashes: { sha256: sha256Hex(evil) } };
    const targets =
      targetsSigners === 'keep' ? Buffer.from(`${JSON.stringify(t, null, 2)}\n`) : sign('targets', t, targetsSigners);
    const s = doc(g('metadata/2.snapshot.json'));
    s.signed['version'] = 3;
    s.signed['meta'] = { 'targets.json': meta(3, targets) };
    const snapshot = sign('snapshot', s, [K.snapshot]);
    const ts = doc(g(TIMESTAMP_KEY));
    ts.signed['version'] = 3;
    ts.signed['meta'] = { 'snapshot.json': meta(3, snapshot) };
    return {
      [TIMESTAMP_KEY]: sign('timestamp', ts, [K.timestamp]),
      'metadata/3.snapshot.json': snapshot,
      'metadata/3.targets.json': targets,
      [targetObjectKey(production.name, sha256Hex(evil))]: evil,
    };
  };
  const resigned = () => {
    const s = doc(g('metadata/2.snapshot.json'));
    s.signed['version'] = 3;
    const snapshot = Buffer.from(JSON.stringify(doc(sign('snapshot', s, [K.snapshot]))));
    const ts = doc(g(TIMESTAMP_KEY));
    ts.signed['version'] = 3;
    ts.signed['meta'] = { 'snapshot.json': meta(3, snapshot) };
    return { [TIMESTAMP_KEY]: sign('timestamp', ts, [K.timestamp]), 'metadata/3.snapshot.json': snapshot };
  };
  const reformatted = (b: Buffer) => {
    const d = doc(b) as unknown as JsonObject;
    put(d, 'x-unsigned-note', 'fields outside "signed" are not covered by signatures');
    return Buffer.from(JSON.stringify(reverseKeys(d)));
  };
  const root2 = doc(g('metadata/2.root.json'));
  (root2.signed['roles'] as { timestamp: { keyids: string[] } }).timestamp.keyids = [K.intruder.keyId];
  (root2.signed['keys'] as JsonObject)[K.intruder.keyId] = {
    keytype: 'ed25519',
    scheme: 'ed25519',
    keyval: { public: K.intruder.publicHex },
  };
  const ts = g(TIMESTAMP_KEY).toString('utf8');

  type Recipe = { spec: Omit<SeedSpec, 'remove'>; files: Record<string, Buffer> };
  const seed = (
    [attacker, state, transport, target, expect]: [Attacker, DeviceState, Transport, TargetFile, SeedSpec['expect']],
    description: string,
    files: Record<string, Buffer>,
    endless?: string[],
  ): Recipe => ({
    spec: { description, attacker, state, transport, target: target.name, expect, ...(endless ? { endless } : {}) },
    files,
  });
  const old = { [TIMESTAMP_KEY]: f.oldTimestamp };
  // The targets key delegates every target to a role whose name cannot name a file (see crash-delegated-role-*).
  const delegateTo = (role: number): Record<string, Buffer> => {
    const json: JsonOp[] = [{ op: 'delegate', role, paths: 0, hide: true, terminating: true }];
    const layer: LayerPlan = { replace: null, json, resign: 1, style: 0, bytes: [] };
    const none = { target: null, snapshot: null, timestamp: null, root: null, nextRoot: null };
    const plan: Plan = {
      attacker: 'targets',
      state: 'current',
      transport: 'folder',
      target: 0,
      targetFile: 0,
      chain: true,
      layers: { ...none, targets: layer },
    };
    return Object.fromEntries([...materialize(plan, f)].map(([k, v]) => [k, v!]));
  };
  return {
    'seed-rollback-timestamp': seed(
      ['none', 'current', 'folder', manifest, 'rollback'],
      "publication 1's genuine timestamp.json served to a device that trusts publication 2",
      old,
    ),
    'seed-freeze-timestamp': seed(
      ['none', 'fresh', 'http', manifest, 'freeze'],
      "publication 1's genuine but expired timestamp.json replayed to a new device",
      old,
    ),
    'seed-freeze-stale-device': seed(
      ['none', 'stale', 'folder', manifest, 'freeze'],
      'a device that last saw publication 1 is kept on it: its own expired timestamp.json again',
      old,
    ),
    'seed-mix-and-match-snapshot': seed(
      ['none', 'fresh', 'folder', manifest, 'mix-and-match'],
      "publication 1's snapshot served under publication 2's name",
      { 'metadata/2.snapshot.json': g('metadata/1.snapshot.json') },
    ),
    'seed-mix-and-match-targets': seed(
      ['none', 'fresh', 'http', manifest, 'mix-and-match'],
      "publication 1's targets served under publication 2's name",
      { 'metadata/2.targets.json': g('metadata/1.targets.json') },
    ),
    'seed-mix-and-match-slices': seed(
      ['none', 'fresh', 'folder', production, 'tampered'],
      "the staging slice served as production's",
      { [production.key]: staging.bytes },
    ),
    'seed-tampered-slice': seed(
      ['none', 'current', 'http', production, 'tampered'],
      'the production slice with another version, same length',
      { [production.key]: evil },
    ),
    'seed-endless-timestamp-http': seed(
      ['none', 'fresh', 'http', manifest, 'endless-data'],
      'timestamp.json that never ends',
      {},
      [TIMESTAMP_KEY],
    ),
    'seed-endless-timestamp-folder': seed(
      ['none', 'current', 'folder', manifest, 'endless-data'],
      'timestamp.json padded past its 16 KiB cap',
      { [TIMESTAMP_KEY]: Buffer.from(ts.replace('{', `{"padding":"${'x'.repeat(20_000)}",`)) },
    ),
    'seed-endless-manifest': seed(
      ['none', 'fresh', 'http', manifest, 'endless-data'],
      'the manifest with 4 KiB more than targets vouches for',
      { [manifest.key]: Buffer.concat([manifest.bytes, Buffer.alloc(4096, 0x20)]) },
    ),
    'seed-endless-snapshot': seed(
      ['none', 'fresh', 'folder', manifest, 'endless-data'],
      'the snapshot one byte longer than timestamp records',
      { 'metadata/2.snapshot.json': Buffer.concat([g('metadata/2.snapshot.json'), Buffer.from(' ')]) },
    ),
    'seed-rollback-root': seed(
      ['none', 'current', 'folder', manifest, 'rollback'],
      'root version 2 offered again as version 3',
      { 'metadata/3.root.json': g('metadata/2.root.json') },
    ),
    'seed-forged-root': seed(
      ['none', 'fresh', 'folder', manifest, 'tampered'],
      'root version 2 with the timestamp role handed to an untrusted key, signatures kept',
      { 'metadata/2.root.json': Buffer.from(`${JSON.stringify(root2, null, 2)}\n`) },
    ),
    'seed-duplicate-key-timestamp': seed(
      ['none', 'fresh', 'folder', manifest, 'tampered'],
      'timestamp.json with "version" twice, a decoy last (JSON.parse keeps the last)',
      { [TIMESTAMP_KEY]: Buffer.from(ts.replace('"version": 2,', '"version": 2, "version": 9,')) },
    ),
    'seed-tolerated-reformat': seed(
      ['none', 'fresh', 'folder', manifest, 'accept'],
      'timestamp.json and root v2 re-serialised (compact, keys reversed, an unsigned extra field): ' +
        'the same signed content, accepted',
      {
        [TIMESTAMP_KEY]: reformatted(g(TIMESTAMP_KEY)),
        'metadata/2.root.json': reformatted(g('metadata/2.root.json')),
      },
    ),
    'seed-delegated-role-nul-byte': seed(
      ['targets', 'current', 'folder', manifest, 'not-found'],
      'the targets key delegates manifest.json to a role whose name holds a NUL byte',
      delegateTo(ROLE_NAMES.indexOf('nul\u0000')),
    ),
    'seed-delegated-role-name-too-long': seed(
      ['targets', 'current', 'folder', manifest, 'not-found'],
      'the targets key delegates manifest.json to a role whose name is too long for a file name',
      delegateTo(ROLE_NAMES.indexOf('x'.repeat(300))),
    ),
    'seed-online-keys-forgery': seed(
      ['online', 'current', 'http', production, 'unsigned'],
      'stolen timestamp and snapshot keys forge publication 3 around targets signed by an untrusted key',
      forge([K.intruder]),
    ),
    'seed-online-keys-kept-signature': seed(
      ['online', 'current', 'folder', production, 'tampered'],
      'stolen timestamp and snapshot keys forge publication 3 around edited targets that keep the genuine signature',
      forge('keep'),
    ),
    'seed-online-keys-resign': seed(
      ['online', 'current', 'folder', manifest, 'accept'],
      'the online keys re-sign the same targets as snapshot 3 and timestamp 3: the same manifest, accepted',
      resigned(),
    ),
  };
}

// ---------------------------------------------------------------------------------------------
// the tests

let runner: Runner;

beforeAll(async () => {
  const built = await buildRepository(tempDir('mg-fuzz-trust-repo-'));
  const stateOf = (entries: [string, Buffer][]) => new Map(entries);
  const fixture: Fixture = {
    ...built,
    states: {
      fresh: new Map(),
      stale: stateOf([
        ['root.json', built.rootV1],
        ['timestamp.json', built.oldTimestamp],
        ['snapshot.json', built.original.get('metadata/1.snapshot.json')!],
        ['targets.json', built.original.get('metadata/1.targets.json')!],
      ]),
      current: new Map(), // filled below, by the real client
    },
    replacements: {
      none: [...built.original.values(), built.oldTimestamp, ...corpusFiles('none')],
      online: [...built.original.values(), built.oldTimestamp, ...corpusFiles('online')],
      targets: [...built.original.values(), built.oldTimestamp, ...corpusFiles('targets')],
    },
    values: valuePool(built, true),
    valuesSafe: valuePool(built, false),
  };
  const stateDir = tempDir('mg-fuzz-trust-state-');
  await fetchVerifiedManifest({ trustedRoot: fixture.rootV1, stateDir, source: fixture.dir });
  fixture.states.current = readState(stateDir);
  expect([...fixture.states.current.keys()].sort()).toEqual([...STATE_FILES].sort());
  runner = { f: fixture, server: await serveFolder(fixture.dir), stateDir, stats: new Map(), verdicts: new Map() };
});

afterAll(async () => {
  await runner?.server.close();
});

describe('trust fuzz: the genuine repository', () => {
  it('is deterministic and verifies from every device state, over both transports', async () => {
    const again = await buildRepository(tempDir('mg-fuzz-trust-repo-'));
    expect([...again.original.keys()].sort()).toEqual([...runner.f.original.keys()].sort());
    for (const [k, v] of again.original) expect(v.equals(runner.f.original.get(k)!), k).toBe(true);
    for (const state of ['fresh', 'stale', 'current'] as const)
      for (let target = 0; target < TARGET_NAMES.length; target++)
        for (const transport of ['folder', 'http'] as const)
          expect(await attempt(runner, { attacker: 'none', state, transport, target }, { files: new Map() })).toEqual({
            accepted: true,
          });
  });
});

describe('trust fuzz: corpus (test/fixtures/fuzz/trust)', () => {
  it.runIf(Boolean(process.env['FUZZ_TRUST_WRITE_SEEDS']))('regenerates the seed corpus', () => {
    for (const name of readdirSync(CORPUS).filter((n) => n.startsWith('seed-')))
      rmSync(join(CORPUS, name), { recursive: true, force: true });
    for (const [name, { spec, files }] of Object.entries(seedRecipes(runner.f))) {
      const dir = join(CORPUS, name);
      for (const [key, bytes] of Object.entries(files)) {
        mkdirSync(dirname(join(dir, key)), { recursive: true });
        writeFileSync(join(dir, key), bytes);
      }
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'seed.json'), `${JSON.stringify(spec, null, 2)}\n`);
    }
  });

  it('has seeds', () => {
    expect(corpusNames.filter((n) => n.startsWith('seed-')).length).toBeGreaterThanOrEqual(10);
  });

  it.each(corpusNames)('%s', async (name) => {
    const { spec, served } = loadSeed(join(CORPUS, name));
    const target = TARGET_NAMES.indexOf(spec.target);
    expect(target, `unknown target ${spec.target}`).toBeGreaterThanOrEqual(0);
    const c: Case = { attacker: spec.attacker, state: spec.state, transport: spec.transport, target };
    const outcome = await attempt(runner, c, served);
    if (spec.expect !== undefined)
      expect(
        outcome,
        `${name}: ${spec.description} (if the repository built by this test changed, regenerate with FUZZ_TRUST_WRITE_SEEDS=1)`,
      ).toEqual(spec.expect === 'accept' ? { accepted: true } : { accepted: false, code: spec.expect });
  });
});

describe('trust fuzz: mutated repositories', () => {
  it('never make a device accept a different manifest, fail otherwise than with a TrustVerificationError, hang, or poison its state', {
    timeout: fuzzTimeout(),
  }, async () => {
    runner.stats.clear();
    let inputs = 0;
    const started = performance.now();
    await fc.assert(
      fc.asyncProperty(planArb, async (plan) => {
        inputs++;
        await attempt(runner, caseOf(plan), { files: materialize(plan, runner.f) }, plan);
      }),
      fuzzParameters(RUNS, SEED),
    );
    const seconds = (performance.now() - started) / 1000;
    const outcomes = [...runner.stats]
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
    console.log(
      `trust fuzz: ${inputs} inputs in ${seconds.toFixed(1)} s (${(inputs / seconds).toFixed(0)}/s): ${outcomes}; ` +
        `${runner.verdicts.size} distinct persisted states re-verified`,
    );
    expect(inputs).toBeGreaterThan(0);
  });
});
