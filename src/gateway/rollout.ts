// Automated canary rollback: a per-deployment rule evaluated from the gateway's own measurements of
// the canary against the champion, and the persisted record of canaries it has rolled back.
//
// Precise semantics (docs/routing.md repeats them):
// - The window: counts start when a canary version becomes active in this gateway process (first
//   manifest naming it, or a manifest changing the canary version or the champion) and are kept in
//   memory only.
// - A failure: a prediction served by the canary version that threw, timed out, or whose upstream
//   answered 5xx. Bad input (400) is not a failure. Overrides that pin the canary version count too.
// - failureLimit N: trips when the canary's TOTAL failures in the window reach N (not consecutive: a
//   canary failing every other request would never reach a consecutive limit). Checked on every
//   canary completion, without waiting for minRequests. With sequential traffic, exactly N requests
//   fail on the canary and request N+1 goes to the champion; requests already in flight when it trips
//   still finish on the canary.
// - maxErrorRate p%: trips when the canary has completed >= minRequests and failures/requests > p%.
// - maxP99LatencyRatio r: trips when canary and champion each have >= minRequests successes in the
//   window and p99(canary) > r * p99(champion) (p99 estimated from the latency histogram).
// - minRequests defaults to 50 (GATEWAY_DEFAULTS.minRequests). Rules are checked in the order above; the first that trips is the reason.
import { readFileSync } from 'node:fs';
import { writeFileAtomicSync } from '../lib/fs-atomic.ts';
import { GATEWAY_DEFAULTS } from './defaults.ts';
import { Histogram } from './metrics.ts';
import { UserError } from '../lib/errors.ts';

export interface RolloutRule {
  /** Percent (0..100), as the manifest carries weights. */
  maxErrorRate?: number;
  maxP99LatencyRatio?: number;
  failureLimit?: number;
  minRequests?: number;
}

export const DEFAULT_MIN_REQUESTS = GATEWAY_DEFAULTS.minRequests;

export class VersionWindow {
  requests = 0;
  failures = 0;
  successes = 0;
  readonly latency = new Histogram();
}

/** The running comparison of one model's canary against its champion. */
export class CanaryTracker {
  readonly model: string;
  readonly champion: string;
  readonly canary: string;
  readonly rule: RolloutRule | undefined;
  readonly canaryWindow = new VersionWindow();
  readonly championWindow = new VersionWindow();
  tripped = false;

  constructor(model: string, champion: string, canary: string, rule: RolloutRule | undefined) {
    this.model = model;
    this.champion = champion;
    this.canary = canary;
    this.rule = rule;
  }

  /** Record one completed prediction; returns the reason when this observation trips the rule. */
  observe(version: string, ok: boolean, seconds: number): string | undefined {
    const w = version === this.canary ? this.canaryWindow : version === this.champion ? this.championWindow : undefined;
    if (!w) return undefined;
    w.requests++;
    if (ok) {
      w.successes++;
      w.latency.observe(seconds);
    } else w.failures++;
    if (this.tripped || w !== this.canaryWindow || !this.rule) return undefined;
    const reason = evaluate(this.rule, this.canaryWindow, this.championWindow);
    if (reason) this.tripped = true;
    return reason;
  }
}

export function evaluate(rule: RolloutRule, canary: VersionWindow, champion: VersionWindow): string | undefined {
  const min = rule.minRequests ?? DEFAULT_MIN_REQUESTS;
  if (rule.failureLimit !== undefined && canary.failures >= rule.failureLimit) {
    return `failureLimit: ${canary.failures} failed predictions reached the limit of ${rule.failureLimit}`;
  }
  if (rule.maxErrorRate !== undefined && canary.requests >= min) {
    const rate = (100 * canary.failures) / canary.requests;
    if (rate > rule.maxErrorRate)
      return `maxErrorRate: ${rate.toFixed(2)}% of ${canary.requests} predictions failed, above ${rule.maxErrorRate}%`;
  }
  if (rule.maxP99LatencyRatio !== undefined && canary.successes >= min && champion.successes >= min) {
    const a = canary.latency.quantile(0.99);
    const b = champion.latency.quantile(0.99);
    if (a > rule.maxP99LatencyRatio * b) {
      return `maxP99LatencyRatio: canary p99 ${(a * 1000).toFixed(2)} ms is ${(a / b).toFixed(2)}x the champion's ${(b * 1000).toFixed(2)} ms, above ${rule.maxP99LatencyRatio}x`;
    }
  }
  return undefined;
}

export interface RollbackRecord {
  canaryVersion: string;
  champion: string;
  reason: string;
  at: string;
  manifestSequence: number;
}

export interface GatewayState {
  schemaVersion: 1;
  environment: string;
  rolledBack: Record<string, RollbackRecord>;
}

/** The gateway's persisted decisions. Written atomically (temp file + rename) so a crash mid-write
 * leaves the previous state, never a torn file. */
export class StateStore {
  readonly path: string | undefined;
  state: GatewayState;

  constructor(path: string | undefined, environment: string) {
    this.path = path;
    this.state = { schemaVersion: 1, environment, rolledBack: {} };
    if (!path) return;
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    // A damaged or foreign state file is the operator's to fix (point --state elsewhere, or delete it).
    let s: GatewayState;
    try {
      s = JSON.parse(text) as GatewayState;
    } catch (e) {
      throw new UserError(`${path}: not a gateway state file (invalid JSON: ${(e as Error).message})`);
    }
    if (
      s === null ||
      typeof s !== 'object' ||
      s.schemaVersion !== 1 ||
      typeof s.rolledBack !== 'object' ||
      s.rolledBack === null
    ) {
      throw new UserError(`${path}: not a gateway state file (schemaVersion 1)`);
    }
    if (s.environment !== environment)
      throw new UserError(`${path} holds the state of environment "${s.environment}", not "${environment}"`);
    this.state = s;
  }

  save(): void {
    if (!this.path) return;
    writeFileAtomicSync(this.path, `${JSON.stringify(this.state, null, 2)}\n`);
  }
}
