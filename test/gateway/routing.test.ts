import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  BUCKETS,
  RoutingError,
  createRouter,
  murmur3Utf8,
  murmur3_32,
  routingBucket,
} from '../../src/manifest/routing.ts';
import { NODE, ROOT } from '../helpers.ts';
import { demoManifest } from './helpers.ts';

const M = 'intent-classifier';
const manifest = (weight: number, extra: { rollbackWindow?: string[] } = {}) =>
  demoManifest({ [M]: { version: '2.0.0', canary: { version: '2.1.0', weight }, ...extra } });

// The same table is in docs/routing.md; an independent Python implementation agrees with it.
// [key, murmur3 hex of "production:intent-classifier:<key>", bucket]
const VECTORS: [string, string, number][] = [
  ['alice', '84add91f', 5823],
  ['bob', '268068b0', 9616],
  ['user-42', '64588d28', 4904],
  ['user-1001', 'bb2956e1', 8609],
  ['user-10', 'bb6b9709', 409],
  ['user-41', '41afa567', 183],
  ['user-12', 'c3821163', 1251],
  ['user-18', '72be1e61', 2241],
  ['a', '4bb5d648', 8072],
  ['tenant/acme:session-7f3a', '0d4965dd', 4013],
  ['Zoë', 'eede7992', 7522],
  ['東京', '9e0f1938', 9624],
  ['🙂emoji', '509c3e1d', 6797],
  ['x'.repeat(40), '730d157e', 7310],
];

const sigma4 = (n: number, p: number) => 4 * Math.sqrt(n * p * (1 - p));

describe('MurmurHash3_x86_32', () => {
  it('matches the published reference vectors', () => {
    const h = (s: string | Buffer, seed: number) =>
      murmur3_32(typeof s === 'string' ? Buffer.from(s) : s, seed)
        .toString(16)
        .padStart(8, '0');
    expect(h('', 0)).toBe('00000000');
    expect(h('', 1)).toBe('514e28b7');
    expect(h('', 0xffffffff)).toBe('81f16f39');
    expect(h(Buffer.from([0, 0, 0, 0]), 0)).toBe('2362f9de');
    expect(h('aaaa', 0x9747b28c)).toBe('5a97808a');
    expect(h('Hello, world!', 0x9747b28c)).toBe('24884cba');
    expect(h('The quick brown fox jumps over the lazy dog', 0x9747b28c)).toBe('2fa826cd');
  });
});

describe('router', () => {
  it('reproduces the documented test vectors (bucket and version at 5% and 25%)', () => {
    const r5 = createRouter(manifest(5), 'production');
    const r25 = createRouter(manifest(25), 'production');
    for (const [key, hex, bucket] of VECTORS) {
      expect(
        murmur3_32(Buffer.from(`production:${M}:${key}`))
          .toString(16)
          .padStart(8, '0'),
        key,
      ).toBe(hex);
      expect(r5.bucket(M, key), key).toBe(bucket);
      expect(r5.route(M, key).version, key).toBe(bucket < 500 ? '2.1.0' : '2.0.0');
      expect(r25.route(M, key).version, key).toBe(bucket < 2500 ? '2.1.0' : '2.0.0');
    }
    expect(r5.route(M, 'user-10')).toEqual({ version: '2.1.0', reason: 'canary' });
    expect(r5.route(M, 'user-12')).toEqual({ version: '2.0.0', reason: 'champion' });
    expect(r25.route(M, 'user-12')).toEqual({ version: '2.1.0', reason: 'canary' });
  });

  it('agrees with the byte-level specification for any string, including non-ASCII and lone surrogates', () => {
    const r = createRouter(manifest(5), 'production', { seed: 's3cr3t-é' });
    const chars = [
      'a',
      'Z',
      '0',
      '-',
      'é',
      'ß',
      '東',
      '🙂',
      '\ud800',
      '\udc00',
      '\u0000',
      '\u07ff',
      '\u0800',
      '\uffff',
    ];
    let s = 1;
    const rand = () => {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      return s / 2 ** 32;
    };
    for (let i = 0; i < 5000; i++) {
      let key = '';
      const len = Math.floor(rand() * 20);
      for (let j = 0; j < len; j++) key += chars[Math.floor(rand() * chars.length)];
      expect(r.bucket(M, key)).toBe(routingBucket('s3cr3t-é', M, key));
      expect(murmur3Utf8(key)).toBe(murmur3_32(Buffer.from(key, 'utf8')));
    }
  });

  it('is deterministic across processes: a child routes the same keys to the same buckets', () => {
    const keys = [...VECTORS.map((v) => v[0]), ...Array.from({ length: 2000 }, (_, i) => `session-${i * 7919}`)];
    const m = manifest(12.5);
    const r = spawnSync(NODE, [`${ROOT}/test/gateway/route-child.ts`], {
      input: JSON.stringify({ manifest: m, environment: 'production', model: M, keys }),
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    const child = JSON.parse(r.stdout) as [number, string][];
    const router = createRouter(m, 'production');
    expect(child).toEqual(keys.map((k) => [router.bucket(M, k), router.route(M, k).version]));
    expect(new Set(child.map((c) => c[1]))).toEqual(new Set(['2.0.0', '2.1.0']));
  });

  it('gives the canary its weight within 4 sigma over 100,000 keys', () => {
    const n = 100_000;
    for (const weight of [5, 12.5, 25, 50]) {
      const r = createRouter(manifest(weight), 'production');
      let canary = 0;
      for (let i = 0; i < n; i++) if (r.route(M, `user-${i}`).reason === 'canary') canary++;
      const p = weight / 100;
      expect(Math.abs(canary - n * p), `weight ${weight}%: ${canary} of ${n}`).toBeLessThanOrEqual(sigma4(n, p));
    }
  });

  it('ramping 5% -> 25% only adds keys to the canary, and 25% -> 5% only removes them', () => {
    const r5 = createRouter(manifest(5), 'production');
    const r25 = createRouter(manifest(25), 'production');
    let in5 = 0;
    let added = 0;
    for (let i = 0; i < 100_000; i++) {
      const k = `user-${i}`;
      const a = r5.route(M, k).reason === 'canary';
      const b = r25.route(M, k).reason === 'canary';
      if (a) {
        in5++;
        expect(b, `${k} left the canary when its weight rose`).toBe(true);
      }
      if (!a && b) added++;
    }
    expect(in5).toBeGreaterThan(4000);
    expect(added).toBeGreaterThan(15_000);
  });

  it('spreads requests without a key randomly, in proportion to the weight', () => {
    const r = createRouter(manifest(30), 'production');
    const n = 100_000;
    let canary = 0;
    for (let i = 0; i < n; i++) {
      const d = r.route(M, i % 2 ? undefined : '');
      expect(d.reason).toBe('random');
      if (d.version === '2.1.0') canary++;
    }
    expect(Math.abs(canary - n * 0.3)).toBeLessThanOrEqual(sigma4(n, 0.3));
  });

  it('honours weight 0 and 100 exactly, and depends on the seed', () => {
    const none = createRouter(manifest(0), 'production');
    const all = createRouter(manifest(100), 'production');
    for (let i = 0; i < 10_000; i++) {
      expect(none.route(M, `k${i}`).version).toBe('2.0.0');
      expect(all.route(M, `k${i}`).version).toBe('2.1.0');
    }
    const a = createRouter(manifest(5), 'production');
    const b = createRouter(manifest(5), 'production', { seed: 'other' });
    let same = 0;
    for (let i = 0; i < 1000; i++) if (a.bucket(M, `k${i}`) === b.bucket(M, `k${i}`)) same++;
    expect(same).toBeLessThan(10);
    expect(a.seed).toBe('production');
    expect(() => createRouter(manifest(101), 'production')).toThrow(/0 to 100/);
  });

  it('accepts overrides to versions the environment references and refuses the rest', () => {
    const r = createRouter(manifest(5, { rollbackWindow: ['1.1.0'] }), 'production');
    for (const v of ['2.0.0', '2.1.0', '1.1.0'])
      expect(r.route(M, 'alice', { override: v })).toEqual({ version: v, reason: 'override' });
    const refused = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return e as RoutingError;
      }
      throw new Error('not refused');
    };
    const e = refused(() => r.route(M, 'alice', { override: '1.0.0' }));
    expect(e).toBeInstanceOf(RoutingError);
    expect(e.code).toBe('unknown-version');
    expect(e.message).toContain('2.0.0, 2.1.0, 1.1.0');
    expect(refused(() => r.route('nope', 'alice')).code).toBe('unknown-model');
    expect(() => createRouter(manifest(5), 'staging')).toThrow(/no environment "staging"/);
  });

  it('suppressCanary stops the canary at once, for keys, random requests and overrides', () => {
    const r = createRouter(manifest(100), 'production');
    expect(r.route(M, 'alice').version).toBe('2.1.0');
    expect(r.suppressCanary(M)).toBe(true);
    expect(r.route(M, 'alice')).toEqual({ version: '2.0.0', reason: 'champion' });
    expect(r.route(M).version).toBe('2.0.0');
    expect(() => r.route(M, 'alice', { override: '2.1.0' })).toThrow(/rolled back/);
    expect(r.describe(M).canary).toMatchObject({ version: '2.1.0', suppressed: true });
    expect(BUCKETS).toBe(10_000);
  });
});
