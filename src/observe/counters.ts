// Per-version, per-time-window distributions the gateway keeps for drift checks: counts of outputs
// (labels for classifiers, finish reasons for LLMs), and histograms of input length and generated
// tokens over fixed log2 buckets. O(1) per request and no allocation on the hot path: a window is a
// slice of one Uint32Array, windows form a ring, a label is looked up in a Map the first time it is seen.
import type { DistributionSnapshot } from './drift.ts';

/** Bucket 0 holds 0; bucket k (1..22) holds [2^(k-1), 2^k); bucket 23 holds everything >= 2^22. */
export const LENGTH_BUCKETS = 24;
/** Distinct output values kept per version; the rest count as OTHER_OUTPUT (a classifier has a handful). */
export const MAX_OUTPUTS = 32;
export const OTHER_OUTPUT = '(other)';

const STRIDE = MAX_OUTPUTS + 2 * LENGTH_BUCKETS + 1; // outputs | input lengths | tokens | request count
const LEN0 = MAX_OUTPUTS;
const TOK0 = MAX_OUTPUTS + LENGTH_BUCKETS;
const REQ = STRIDE - 1;

export function lengthBucket(n: number): number {
  if (!(n >= 1)) return 0;
  return n >= 2 ** 22 ? LENGTH_BUCKETS - 1 : 32 - Math.clz32(n);
}

/** The lower bound of a bucket, for labels in reports. */
export function bucketFloor(b: number): number {
  return b === 0 ? 0 : 2 ** (b - 1);
}

/** A histogram of values over the same buckets (used to build references from a golden set). */
export function lengthHistogram(values: Iterable<number>): number[] {
  const h = new Array<number>(LENGTH_BUCKETS).fill(0);
  for (const v of values) h[lengthBucket(v)]!++;
  return h;
}

export interface WindowSnapshot extends DistributionSnapshot {
  /** Start of the window, ms since the epoch. */
  start: number;
  tokens: number[];
}

export class VersionWindows {
  readonly windowMs: number;
  readonly windows: number;
  private readonly data: Uint32Array;
  /** Window number (floor(time / windowMs)) each ring slot holds; -1 when empty. */
  private readonly slotWindow: Float64Array;
  private readonly outputIndex = new Map<string, number>();
  private readonly outputNames: string[] = [];
  requests = 0;

  constructor(windowMs: number, windows: number) {
    if (!(windowMs >= 1) || !Number.isSafeInteger(windows) || windows < 1)
      throw new RangeError(`window counters need windowMs >= 1 and windows >= 1, got ${windowMs}, ${windows}`);
    this.windowMs = windowMs;
    this.windows = windows;
    this.data = new Uint32Array(windows * STRIDE);
    this.slotWindow = new Float64Array(windows).fill(-1);
  }

  private output(name: string): number {
    const i = this.outputIndex.get(name);
    if (i !== undefined) return i;
    // The last slot is kept for OTHER_OUTPUT.
    if (this.outputNames.length >= MAX_OUTPUTS - 1 && name !== OTHER_OUTPUT) return this.output(OTHER_OUTPUT);
    const j = this.outputNames.length;
    this.outputNames.push(name);
    this.outputIndex.set(name, j);
    return j;
  }

  /** One answered request. `tokens` < 0 when the engine has no token count (classifiers). */
  record(now: number, output: string, inputLength: number, tokens = -1): void {
    const w = Math.floor(now / this.windowMs);
    const slot = w % this.windows;
    const base = slot * STRIDE;
    if (this.slotWindow[slot] !== w) {
      this.data.fill(0, base, base + STRIDE);
      this.slotWindow[slot] = w;
    }
    this.data[base + this.output(output)]!++;
    this.data[base + LEN0 + lengthBucket(inputLength)]!++;
    if (tokens >= 0) this.data[base + TOK0 + lengthBucket(tokens)]!++;
    this.data[base + REQ]!++;
    this.requests++;
  }

  /** The windows still in the ring that started at or after `since` (ms), oldest first. */
  snapshot(now: number, since = Number.NEGATIVE_INFINITY): WindowSnapshot[] {
    const current = Math.floor(now / this.windowMs);
    const out: WindowSnapshot[] = [];
    for (let w = current - this.windows + 1; w <= current; w++) {
      if (w < 0) continue;
      const slot = w % this.windows;
      if (this.slotWindow[slot] !== w || w * this.windowMs < since) continue;
      const base = slot * STRIDE;
      const outputs: Record<string, number> = {};
      for (let i = 0; i < this.outputNames.length; i++) {
        const c = this.data[base + i]!;
        if (c > 0) outputs[this.outputNames[i]!] = c;
      }
      out.push({
        start: w * this.windowMs,
        requests: this.data[base + REQ]!,
        outputs,
        inputLength: Array.from(this.data.subarray(base + LEN0, base + LEN0 + LENGTH_BUCKETS)),
        tokens: Array.from(this.data.subarray(base + TOK0, base + TOK0 + LENGTH_BUCKETS)),
      });
    }
    return out;
  }
}

/** Sums windows into one distribution (what a drift check compares). */
export function mergeWindows(windows: readonly DistributionSnapshot[]): DistributionSnapshot {
  const merged: DistributionSnapshot = {
    requests: 0,
    outputs: {},
    inputLength: new Array<number>(LENGTH_BUCKETS).fill(0),
    tokens: new Array<number>(LENGTH_BUCKETS).fill(0),
  };
  for (const w of windows) {
    merged.requests += w.requests;
    for (const [k, v] of Object.entries(w.outputs)) merged.outputs[k] = (merged.outputs[k] ?? 0) + v;
    w.inputLength.forEach((v, i) => {
      merged.inputLength[i]! += v;
    });
    w.tokens?.forEach((v, i) => {
      merged.tokens![i]! += v;
    });
  }
  return merged;
}
