// Rollout routing: which version of a model serves a request, per an environment's deployment.
//
// Specification (what another language must implement to agree with this one; docs/routing.md has
// test vectors):
//   input  = UTF-8 bytes of  seed + ":" + model + ":" + key
//   hash   = MurmurHash3_x86_32(input, seed 0)  (Austin Appleby's reference, unsigned 32-bit result)
//   bucket = hash mod 10000                       (0..9999, i.e. 0.01% resolution)
//   canary = bucket < round(weight * 100)         (weight in percent, 0..100)
// The canary owns the LOW buckets, so raising its weight only adds keys to it and lowering it only
// removes keys. Requests without a key (undefined or "") get a uniformly random bucket.
// The default seed is the environment name, so every gateway of one environment agrees without
// configuration, and two environments split users independently.
//
// Why MurmurHash3 and not SHA-256: node:crypto's createHash costs ~1 µs per call (object + native
// call), which caps routing far below the 5 M decisions/s goal; MurmurHash3 is exactly specified,
// has a full-avalanche finaliser (FNV-1a's low bits, which `mod 10000` relies on, are weak), and
// ready implementations exist in every language (Python mmh3, Guava murmur3_32, Go murmur3...).
// Stickiness needs uniformity, not cryptographic strength: a key's owner can only pick its own bucket.
import { UserError } from '../lib/errors.ts';
import { type Manifest, manifestEnvironment } from './manifest.ts';

export const BUCKETS = 10_000;

export type RouteReason = 'champion' | 'canary' | 'override' | 'random';

export interface RouteDecision {
  readonly version: string;
  readonly reason: RouteReason;
}

export interface RouterOptions {
  /** Salt of the bucket hash; default: the environment name. Every replica must use the same seed. */
  seed?: string;
}

export type RoutingErrorCode = 'unknown-model' | 'unknown-version' | 'rolled-back';

/** A request that cannot be routed: the gateway answers it with a 4xx, never a 5xx. */
export class RoutingError extends UserError {
  readonly code: RoutingErrorCode;
  constructor(code: RoutingErrorCode, message: string) {
    super(message);
    this.name = 'RoutingError';
    this.code = code;
  }
}

// ---- MurmurHash3_x86_32 --------------------------------------------------------------------------

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

function mixBlock(h: number, k: number): number {
  k = Math.imul(k, C1);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, C2);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function finish(h: number, tail: number, tailBits: number, length: number): number {
  if (tailBits > 0) {
    let k = Math.imul(tail, C1);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, C2);
  }
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** MurmurHash3_x86_32 of `bytes` (reference implementation; the router uses a streaming equivalent). */
export function murmur3_32(bytes: Uint8Array, seed = 0): number {
  let h = seed | 0;
  const n = bytes.length;
  const blocks = n & ~3;
  for (let i = 0; i < blocks; i += 4) {
    h = mixBlock(h, bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
  }
  let tail = 0;
  for (let i = blocks, shift = 0; i < n; i++, shift += 8) tail |= bytes[i]! << shift;
  return finish(h, tail, (n & 3) * 8, n);
}

/** The bucket of a key, straight from the specification (slow path: one Buffer per call). */
export function routingBucket(seed: string, model: string, key: string): number {
  return murmur3_32(Buffer.from(`${seed}:${model}:${key}`, 'utf8')) % BUCKETS;
}

/** Hash state after some bytes: whole blocks folded into h, the 0-3 pending bytes kept in tail. */
interface HashState {
  h: number;
  tail: number;
  tailBits: number;
  length: number;
}

function feedBytes(s: HashState, bytes: Uint8Array): HashState {
  let { h, tail, tailBits, length } = s;
  for (const b of bytes) {
    tail |= b << tailBits;
    tailBits += 8;
    if (tailBits === 32) {
      h = mixBlock(h, tail);
      tail = 0;
      tailBits = 0;
    }
  }
  length += bytes.length;
  return { h, tail, tailBits, length };
}

/** Hash of prefix + UTF-8(key), continuing from a precomputed prefix state ("seed:model:"), without
 * allocating for ASCII keys. The first non-ASCII code unit sends the rest of the key through Buffer's
 * encoder, which is exact because splitting before a non-ASCII unit never splits a UTF-8 sequence. */
// Not a closure inside hashFrom: capturing its mutable locals would move them off the stack.
function hashRest(h: number, tail: number, tailBits: number, length: number, rest: string): number {
  const s = feedBytes({ h, tail, tailBits, length }, Buffer.from(rest, 'utf8'));
  return finish(s.h, s.tail, s.tailBits, s.length);
}

function hashFrom(p: HashState, key: string): number {
  let h = p.h;
  let tail = p.tail;
  let tailBits = p.tailBits;
  const n = key.length;
  let i = 0;
  // Complete the block the prefix left open, one byte at a time...
  for (; tailBits !== 0 && i < n; i++) {
    const c = key.charCodeAt(i);
    if (c >= 0x80) return hashRest(h, tail, tailBits, p.length + i, key.slice(i));
    tail |= c << tailBits;
    tailBits += 8;
    if (tailBits === 32) {
      h = mixBlock(h, tail);
      tail = 0;
      tailBits = 0;
    }
  }
  // ...then whole 4-byte blocks while the characters are ASCII (one byte each)...
  for (; i + 4 <= n; i += 4) {
    const c0 = key.charCodeAt(i);
    const c1 = key.charCodeAt(i + 1);
    const c2 = key.charCodeAt(i + 2);
    const c3 = key.charCodeAt(i + 3);
    if ((c0 | c1 | c2 | c3) >= 0x80) break;
    h = mixBlock(h, c0 | (c1 << 8) | (c2 << 16) | (c3 << 24));
  }
  // ...and the rest byte by byte; the first non-ASCII unit hands over to the UTF-8 encoder.
  for (; i < n; i++) {
    const c = key.charCodeAt(i);
    if (c >= 0x80) return hashRest(h, tail, tailBits, p.length + i, key.slice(i));
    tail |= c << tailBits;
    tailBits += 8;
    if (tailBits === 32) {
      h = mixBlock(h, tail);
      tail = 0;
      tailBits = 0;
    }
  }
  return finish(h, tail, tailBits, p.length + n);
}

const bucketFrom = (p: HashState, key: string): number => hashFrom(p, key) % BUCKETS;

const EMPTY: HashState = { h: 0, tail: 0, tailBits: 0, length: 0 };

/** MurmurHash3_x86_32 (seed 0) of a string's UTF-8 bytes, without allocating for ASCII strings. */
export function murmur3Utf8(s: string): number {
  return hashFrom(EMPTY, s);
}

// ---- Router --------------------------------------------------------------------------------------

/** Buckets [0, threshold) belong to the canary. */
export function canaryThreshold(weightPercent: number): number {
  if (!Number.isFinite(weightPercent) || weightPercent < 0 || weightPercent > 100) {
    throw new UserError(`canary weight must be a percentage from 0 to 100, got ${weightPercent}`);
  }
  return Math.round(weightPercent * 100);
}

interface ModelRoute {
  prefix: HashState;
  threshold: number;
  champion: RouteDecision;
  canary: RouteDecision;
  randomChampion: RouteDecision;
  randomCanary: RouteDecision;
  canaryVersion?: string;
  canarySuppressed: boolean;
  /** Versions an override may name, with their frozen decisions (no allocation per request). */
  overrides: Map<string, RouteDecision>;
  rollbackWindow: string[];
}

export interface ModelRouting {
  champion: string;
  canary?: { version: string; weight: number; threshold: number; suppressed: boolean };
  rollbackWindow: string[];
}

export interface Router {
  readonly environment: string;
  readonly seed: string;
  /** Route one request. `requestKey` makes the choice sticky; without one a random bucket is used.
   * `override` pins a version the environment references (champion, active canary, rollback window). */
  route(model: string, requestKey?: string, options?: { override?: string }): RouteDecision;
  /** The bucket of a key for a model (0..9999); canary iff bucket < the canary threshold. */
  bucket(model: string, requestKey: string): number;
  /** Stop routing to a model's canary immediately (automated rollback). Returns false if it has none. */
  suppressCanary(model: string): boolean;
  has(model: string): boolean;
  models(): string[];
  describe(model: string): ModelRouting;
}

const decision = (version: string, reason: RouteReason): RouteDecision => Object.freeze({ version, reason });

export function createRouter(manifest: Manifest, environment: string, options: RouterOptions = {}): Router {
  const env = manifestEnvironment(manifest, environment);
  const seed = options.seed ?? environment;
  const routes = new Map<string, ModelRoute>();
  for (const [model, d] of Object.entries(env.models)) {
    const champion = decision(d.version, 'champion');
    const canary = d.canary ? decision(d.canary.version, 'canary') : champion;
    const overrides = new Map<string, RouteDecision>();
    for (const v of [d.version, ...(d.canary ? [d.canary.version] : []), ...(d.rollbackWindow ?? [])])
      overrides.set(v, decision(v, 'override'));
    routes.set(model, {
      prefix: feedBytes(EMPTY, Buffer.from(`${seed}:${model}:`, 'utf8')),
      threshold: d.canary ? canaryThreshold(d.canary.weight) : 0,
      champion,
      canary,
      randomChampion: decision(d.version, 'random'),
      randomCanary: decision(d.canary?.version ?? d.version, 'random'),
      ...(d.canary ? { canaryVersion: d.canary.version } : {}),
      canarySuppressed: false,
      overrides,
      rollbackWindow: [...(d.rollbackWindow ?? [])],
    });
  }

  const lookup = (model: string): ModelRoute => {
    const r = routes.get(model);
    if (r === undefined)
      throw new RoutingError('unknown-model', `model "${model}" is not deployed in environment "${environment}"`);
    return r;
  };

  return {
    environment,
    seed,
    route(model, requestKey, options) {
      const r = lookup(model);
      if (options?.override !== undefined) {
        const d = r.overrides.get(options.override);
        if (d !== undefined) return d;
        if (r.canarySuppressed && options.override === r.canaryVersion) {
          throw new RoutingError(
            'rolled-back',
            `${model}@${options.override} was a canary in "${environment}" and has been rolled back; it no longer serves`,
          );
        }
        const allowed = [...r.overrides.keys()].join(', ');
        throw new RoutingError(
          'unknown-version',
          `${model}@${options.override} is not served in "${environment}"; an override may name: ${allowed}`,
        );
      }
      if (requestKey === undefined || requestKey === '') {
        return Math.random() * BUCKETS < r.threshold ? r.randomCanary : r.randomChampion;
      }
      return bucketFrom(r.prefix, requestKey) < r.threshold ? r.canary : r.champion;
    },
    bucket(model, requestKey) {
      return bucketFrom(lookup(model).prefix, requestKey);
    },
    suppressCanary(model) {
      const r = lookup(model);
      if (r.canaryVersion === undefined) return false;
      r.threshold = 0;
      r.canarySuppressed = true;
      if (r.canaryVersion !== r.champion.version && !r.rollbackWindow.includes(r.canaryVersion))
        r.overrides.delete(r.canaryVersion);
      return true;
    },
    has: (model) => routes.has(model),
    models: () => [...routes.keys()],
    describe(model) {
      const r = lookup(model);
      const d = env.models[model]!;
      return {
        champion: d.version,
        ...(d.canary
          ? {
              canary: {
                version: d.canary.version,
                weight: d.canary.weight,
                threshold: canaryThreshold(d.canary.weight),
                suppressed: r.canarySuppressed,
              },
            }
          : {}),
        rollbackWindow: [...r.rollbackWindow],
      };
    },
  };
}
