// What one gateway has observed, per model version: the window counters (drift) and the feedback arm
// (experiments), behind one object the gateway calls once per answered request, and the JSON snapshot
// that `GET /v1/observations` serves and `model-gitops drift` / `experiment report` read.
import { UserError } from '../lib/errors.ts';
import { VersionWindows, type WindowSnapshot } from './counters.ts';
import { type FeedbackCounts, type FeedbackResult, FeedbackStore } from './feedback.ts';
import type { ArmStats } from './sequential.ts';

export const OBSERVATIONS_CONTRACT = 'model-gitops/observations@1';

export interface ObservationsOptions {
  windowMs?: number;
  windows?: number;
  feedbackCapacity?: number;
  /** Request id prefix (random per process by default). */
  prefix?: string;
}

export const OBSERVATION_DEFAULTS = { windowMs: 60_000, windows: 60, feedbackCapacity: 100_000 } as const;

interface VersionObservations {
  model: string;
  version: string;
  windows: VersionWindows;
  arm: number;
}

export interface VersionSnapshot {
  model: string;
  version: string;
  requests: number;
  feedback: ArmStats;
  windows: WindowSnapshot[];
}

export interface ObservationsSnapshot {
  contract: typeof OBSERVATIONS_CONTRACT;
  takenAt: string;
  windowMs: number;
  /** Which version is the champion and which the canary, per model, when the gateway knows. */
  deployments: Record<string, { champion: string; canary?: string }>;
  versions: VersionSnapshot[];
  feedback: FeedbackCounts;
}

export class Observations {
  readonly windowMs: number;
  readonly windowCount: number;
  readonly feedback: FeedbackStore;
  /** model -> version -> observations: two lookups on strings the caller already holds, no key building. */
  private readonly byModel = new Map<string, Map<string, VersionObservations>>();
  private readonly all: VersionObservations[] = [];

  constructor(o: ObservationsOptions = {}) {
    this.windowMs = o.windowMs ?? OBSERVATION_DEFAULTS.windowMs;
    this.windowCount = o.windows ?? OBSERVATION_DEFAULTS.windows;
    this.feedback = new FeedbackStore(o.feedbackCapacity ?? OBSERVATION_DEFAULTS.feedbackCapacity, o.prefix);
  }

  private version(model: string, version: string): VersionObservations {
    let versions = this.byModel.get(model);
    if (!versions) {
      versions = new Map();
      this.byModel.set(model, versions);
    }
    let v = versions.get(version);
    if (!v) {
      v = { model, version, windows: new VersionWindows(this.windowMs, this.windowCount), arm: this.feedback.addArm() };
      versions.set(version, v);
      this.all.push(v);
    }
    return v;
  }

  /** One answered request; returns its request id. `tokens` < 0 when there is no token count. */
  record(model: string, version: string, output: string, inputLength: number, tokens = -1, now = Date.now()): string {
    const v = this.version(model, version);
    v.windows.record(now, output, inputLength, tokens);
    return this.feedback.issue(v.arm);
  }

  /**
   * A request id for an answer whose output is known only when it ends (a stream: the id goes out in
   * the headers, before the first token); count() records the answer then.
   */
  issue(model: string, version: string): string {
    return this.feedback.issue(this.version(model, version).arm);
  }

  /** One more item of a batched request (counted for drift; the request has one id, from record()). */
  count(model: string, version: string, output: string, inputLength: number, tokens = -1, now = Date.now()): void {
    this.version(model, version).windows.record(now, output, inputLength, tokens);
  }

  recordFeedback(requestId: string, value: number): { result: FeedbackResult; model?: string; version?: string } {
    const arm = this.feedback.armOf(requestId);
    const result = this.feedback.record(requestId, value);
    const v = arm === undefined ? undefined : this.all[arm];
    return { result, model: v?.model, version: v?.version };
  }

  snapshot(
    deployments: ObservationsSnapshot['deployments'] = {},
    now = Date.now(),
    since?: number,
  ): ObservationsSnapshot {
    return {
      contract: OBSERVATIONS_CONTRACT,
      takenAt: new Date(now).toISOString(),
      windowMs: this.windowMs,
      deployments,
      versions: this.all.map((v) => ({
        model: v.model,
        version: v.version,
        requests: v.windows.requests,
        feedback: { ...this.feedback.arms[v.arm]! },
        windows: v.windows.snapshot(now, since),
      })),
      feedback: { ...this.feedback.counts },
    };
  }
}

const isCounts = (a: unknown): a is number[] =>
  Array.isArray(a) && a.every((x) => Number.isSafeInteger(x) && (x as number) >= 0);

/** Parses a snapshot (a file or a gateway's answer); the error names the source and the field. */
export function parseObservations(text: string, source: string): ObservationsSnapshot {
  let data: any;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${source}: not JSON (${(e as Error).message}); expected a ${OBSERVATIONS_CONTRACT} document`);
  }
  const bad = (field: string, what: string) =>
    new UserError(`${source}: ${field} ${what}; expected a ${OBSERVATIONS_CONTRACT} document (GET /v1/observations)`);
  if (data?.contract !== OBSERVATIONS_CONTRACT) throw bad('contract', `is ${JSON.stringify(data?.contract)}`);
  if (!Array.isArray(data.versions)) throw bad('versions', 'is not a list');
  if (typeof data.deployments !== 'object' || data.deployments === null) throw bad('deployments', 'is not an object');
  data.versions.forEach((v: any, i: number) => {
    const at = `versions[${i}]`;
    if (typeof v?.model !== 'string' || typeof v.version !== 'string') throw bad(`${at}.model/version`, 'is missing');
    const f = v.feedback;
    if (!f || ![f.n, f.sum, f.sumSq].every(Number.isFinite) || f.n < 0)
      throw bad(`${at}.feedback`, 'is not {n, sum, sumSq}');
    if (!Array.isArray(v.windows)) throw bad(`${at}.windows`, 'is not a list');
    v.windows.forEach((w: any, j: number) => {
      const wat = `${at}.windows[${j}]`;
      if (!Number.isSafeInteger(w?.requests) || w.requests < 0) throw bad(`${wat}.requests`, 'is not a count');
      if (!isCounts(w.inputLength)) throw bad(`${wat}.inputLength`, 'is not a list of counts');
      if (w.tokens !== undefined && !isCounts(w.tokens)) throw bad(`${wat}.tokens`, 'is not a list of counts');
      if (typeof w.outputs !== 'object' || w.outputs === null || !isCounts(Object.values(w.outputs)))
        throw bad(`${wat}.outputs`, 'is not a map of counts');
    });
  });
  return data as ObservationsSnapshot;
}
