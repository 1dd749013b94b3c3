// Drift metrics, the per-version window counters, the bounded feedback store and the snapshot parser.
import { describe, expect, it } from 'vitest';
import { mulberry32, pick, randInt } from '../../src/lib/prng.ts';
import {
  LENGTH_BUCKETS,
  lengthBucket,
  lengthHistogram,
  MAX_OUTPUTS,
  mergeWindows,
  OTHER_OUTPUT,
  VersionWindows,
} from '../../src/observe/counters.ts';
import { checkDrift, jensenShannon, psi, SMOOTHING } from '../../src/observe/drift.ts';
import { FeedbackStore } from '../../src/observe/feedback.ts';
import { Observations, parseObservations } from '../../src/observe/observations.ts';

const LABELS = ['greet', 'order', 'cancel_order', 'other'];

/** Seeded traffic: labels drawn with the given weights, input lengths around `meanLen`. */
function traffic(seed: number, weights: number[], meanLen: number, n: number) {
  const rng = mulberry32(seed);
  const out: { label: string; len: number }[] = [];
  const total = weights.reduce((a, b) => a + b, 0);
  for (let i = 0; i < n; i++) {
    let u = rng() * total,
      k = 0;
    while (u >= weights[k]! && k < weights.length - 1) u -= weights[k++]!;
    out.push({ label: LABELS[k]!, len: Math.max(1, Math.round(meanLen * (0.5 + rng()))) });
  }
  return out;
}

function snapshotOf(rows: { label: string; len: number }[]) {
  const w = new VersionWindows(60_000, 10);
  for (const r of rows) w.record(1_000, r.label, r.len);
  return mergeWindows(w.snapshot(1_000));
}

describe('drift metrics', () => {
  it('PSI and JS are 0 for equal histograms and grow with the shift', () => {
    const h = [10, 20, 30, 40];
    expect(psi(h, h)).toBeCloseTo(0, 12);
    expect(jensenShannon(h, h)).toBeCloseTo(0, 7);
    const small = psi([12, 20, 30, 38], h),
      large = psi([40, 30, 20, 10], h);
    expect(small).toBeGreaterThan(0);
    expect(large).toBeGreaterThan(small * 10);
    expect(jensenShannon([40, 30, 20, 10], h)).toBeGreaterThan(jensenShannon([12, 20, 30, 38], h));
  });

  it('an empty bin on one side stays finite (smoothing), and JS distance stays within [0, 1]', () => {
    expect(SMOOTHING).toBe(0.5);
    const v = psi([100, 0], [0, 100]);
    expect(Number.isFinite(v)).toBe(true);
    expect(v).toBeGreaterThan(5);
    const js = jensenShannon([1000, 0], [0, 1000]);
    expect(js).toBeGreaterThan(0.95);
    expect(js).toBeLessThanOrEqual(1);
  });

  it('refuses histograms of different or zero size', () => {
    expect(() => psi([1, 2], [1, 2, 3])).toThrow(/2 and 3 bins/);
    expect(() => jensenShannon([], [])).toThrow(/no bins/);
  });

  it('injected drift is flagged (label mix and input length), no drift stays quiet, for both metrics', () => {
    const reference = snapshotOf(traffic(1, [25, 40, 15, 20], 30, 2000));
    const same = snapshotOf(traffic(2, [25, 40, 15, 20], 30, 2000));
    const labelShift = snapshotOf(traffic(3, [10, 20, 50, 20], 30, 2000));
    const lengthShift = snapshotOf(traffic(4, [25, 40, 15, 20], 120, 2000));
    for (const spec of [
      { metric: 'psi' as const, warn: 0.1, fail: 0.25 },
      { metric: 'js' as const, warn: 0.1, fail: 0.2 },
    ]) {
      expect(checkDrift(same, reference, spec).level).toBe('ok');
      const l = checkDrift(labelShift, reference, spec);
      expect(l.level).toBe('fail');
      expect(l.findings.find((f) => f.feature === 'outputs')!.level).toBe('fail');
      expect(l.findings.find((f) => f.feature === 'inputLength')!.level).toBe('ok');
      const len = checkDrift(lengthShift, reference, spec);
      expect(len.findings.find((f) => f.feature === 'inputLength')!.level).toBe('fail');
      expect(len.findings.find((f) => f.feature === 'outputs')!.level).toBe('ok');
    }
  });

  it('100 seeded no-drift windows of 500 requests stay under warn; 100 drifted ones all fail', () => {
    const reference = snapshotOf(traffic(1, [25, 40, 15, 20], 30, 5000));
    let quiet = 0,
      flagged = 0;
    for (let i = 0; i < 100; i++) {
      if (checkDrift(snapshotOf(traffic(100 + i, [25, 40, 15, 20], 30, 500)), reference).level === 'ok') quiet++;
      if (checkDrift(snapshotOf(traffic(300 + i, [10, 25, 45, 20], 30, 500)), reference).level === 'fail') flagged++;
    }
    expect(quiet).toBe(100);
    expect(flagged).toBe(100);
  });

  it('too few live requests: insufficient, not a verdict; fail < warn is refused', () => {
    const reference = snapshotOf(traffic(1, [25, 40, 15, 20], 30, 500));
    const few = snapshotOf(traffic(5, [0, 0, 100, 0], 30, 50));
    expect(checkDrift(few, reference, { metric: 'psi', warn: 0.1, fail: 0.25, minRequests: 200 }).level).toBe(
      'insufficient',
    );
    expect(() => checkDrift(few, reference, { metric: 'psi', warn: 0.3, fail: 0.2 })).toThrow(
      /drift.fail \(0.2\) must be >= drift.warn \(0.3\)/,
    );
  });
});

describe('window counters', () => {
  it('log2 buckets: 0, 1, [2,4), [4,8) ... and the last bucket holds everything large', () => {
    expect([0, 1, 2, 3, 4, 7, 8, 1023, 1024].map(lengthBucket)).toEqual([0, 1, 2, 2, 3, 3, 4, 10, 11]);
    expect(lengthBucket(-5)).toBe(0);
    expect(lengthBucket(Number.NaN)).toBe(0);
    expect(lengthBucket(2 ** 40)).toBe(LENGTH_BUCKETS - 1);
    expect(lengthHistogram([1, 2, 3]).reduce((a, b) => a + b)).toBe(3);
  });

  it('counts exactly what was recorded, per window, and forgets windows that left the ring', () => {
    const w = new VersionWindows(1000, 3);
    const rng = mulberry32(3);
    const expected = new Map<number, Map<string, number>>();
    for (let t = 0; t < 5000; t += 7) {
      const label = pick(rng, LABELS);
      w.record(t, label, randInt(rng, 200), randInt(rng, 50));
      const win = Math.floor(t / 1000);
      const m = expected.get(win) ?? new Map<string, number>();
      m.set(label, (m.get(label) ?? 0) + 1);
      expected.set(win, m);
    }
    const snap = w.snapshot(4999);
    expect(snap.map((s) => s.start)).toEqual([2000, 3000, 4000]);
    for (const s of snap) {
      expect(s.outputs).toEqual(Object.fromEntries([...expected.get(s.start / 1000)!].sort()));
      const total = Object.values(s.outputs).reduce((a, b) => a + b, 0);
      expect(s.requests).toBe(total);
      expect(s.inputLength.reduce((a, b) => a + b)).toBe(total);
      expect(s.tokens.reduce((a, b) => a + b)).toBe(total);
    }
    expect(w.snapshot(4999, 3000).map((s) => s.start)).toEqual([3000, 4000]);
    expect(w.requests).toBe(Math.ceil(5000 / 7));
  });

  it('caps distinct outputs at MAX_OUTPUTS, counting the rest as (other)', () => {
    const w = new VersionWindows(1000, 1);
    for (let i = 0; i < 100; i++) w.record(0, `label-${i}`, 1);
    const s = w.snapshot(0)[0]!;
    expect(Object.keys(s.outputs)).toHaveLength(MAX_OUTPUTS);
    expect(s.outputs[OTHER_OUTPUT]).toBe(100 - (MAX_OUTPUTS - 1));
  });

  it('refuses a zero window or ring size', () => {
    expect(() => new VersionWindows(0, 3)).toThrow(/windowMs >= 1/);
    expect(() => new VersionWindows(10, 0)).toThrow(/windows >= 1/);
  });
});

describe('feedback store', () => {
  it('records once per id, refuses duplicates, unknown, foreign and malformed ids, and counts each', () => {
    const f = new FeedbackStore(8, 'abc-');
    const arm = f.addArm();
    const id = f.issue(arm);
    expect(id).toBe('abc-1');
    expect(f.record(id, 1)).toBe('recorded');
    expect(f.record(id, 1)).toBe('duplicate');
    for (const bad of ['abc-2', 'zzz-1', 'abc-', 'abc-../1', 'abc-0', `abc-${'z'.repeat(80)}`, ''])
      expect(f.record(bad, 1)).toBe('unknown');
    expect(f.counts).toMatchObject({ issued: 1, recorded: 1, duplicate: 1, unknown: 7 });
    expect(f.arms[arm]).toEqual({ n: 1, sum: 1, sumSq: 1 });
    expect(() => f.record(id, Number.NaN)).toThrow(/finite number/);
  });

  it('memory stays bounded: past capacity the oldest requests are evicted and counted', () => {
    const f = new FeedbackStore(100, 'p-');
    const a = f.addArm();
    const ids = Array.from({ length: 250 }, () => f.issue(a));
    expect(f.pending()).toBe(100);
    expect(f.counts.expiredUnanswered).toBe(150);
    expect(f.record(ids[0]!, 1)).toBe('evicted');
    expect(f.record(ids[149]!, 1)).toBe('evicted');
    expect(f.record(ids[150]!, 0)).toBe('recorded');
    expect(f.record(ids[249]!, 1)).toBe('recorded');
    expect(f.counts).toMatchObject({ evicted: 2, recorded: 2, capacity: 100 });
    expect(f.arms[a]).toEqual({ n: 2, sum: 1, sumSq: 1 });
  });

  it('refuses a bad capacity or prefix', () => {
    expect(() => new FeedbackStore(0)).toThrow(/capacity/);
    expect(() => new FeedbackStore(10, 'BAD')).toThrow(/prefix/);
  });
});

describe('observations snapshot', () => {
  it('round-trips per version and attributes feedback to the version that answered', () => {
    const o = new Observations({ windowMs: 1000, windows: 4, feedbackCapacity: 16, prefix: 'g-' });
    const a = o.record('m', '1.0.0', 'greet', 10, -1, 500);
    const b = o.record('m', '1.1.0', 'order', 20, 5, 600);
    expect(o.recordFeedback(b, 1)).toEqual({ result: 'recorded', model: 'm', version: '1.1.0' });
    expect(o.recordFeedback(a, 0).version).toBe('1.0.0');
    const snap = parseObservations(JSON.stringify(o.snapshot({ m: { champion: '1.0.0', canary: '1.1.0' } }, 900)), 'x');
    expect(snap.versions.map((v) => [v.version, v.requests, v.feedback.n, v.feedback.sum])).toEqual([
      ['1.0.0', 1, 1, 0],
      ['1.1.0', 1, 1, 1],
    ]);
    expect(snap.versions[1]!.windows[0]!.tokens![lengthBucket(5)]).toBe(1);
  });

  it('a malformed snapshot is refused naming the field', () => {
    const good = new Observations({ prefix: 'g-' });
    good.record('m', '1.0.0', 'x', 1);
    const text = JSON.stringify(good.snapshot());
    expect(() => parseObservations('{', 'obs.json')).toThrow(/obs.json: not JSON/);
    expect(() => parseObservations('{"contract":"other"}', 'obs.json')).toThrow(/obs.json: contract is "other"/);
    const tamper = (f: (d: any) => void) => {
      const d = JSON.parse(text);
      f(d);
      return () => parseObservations(JSON.stringify(d), 'obs.json');
    };
    expect(tamper((d) => (d.versions = 3))).toThrow(/versions is not a list/);
    expect(tamper((d) => (d.versions[0].feedback = { n: 'a' }))).toThrow(/versions\[0\]\.feedback/);
    expect(tamper((d) => (d.versions[0].windows[0].inputLength = [-1]))).toThrow(/windows\[0\]\.inputLength/);
    expect(tamper((d) => (d.versions[0].windows[0].outputs = { x: 1.5 }))).toThrow(/windows\[0\]\.outputs/);
    expect(tamper((d) => delete d.versions[0].model)).toThrow(/versions\[0\]\.model/);
  });
});
