// Per model+version counters and latency histograms, and the gateway's Prometheus text exposition.
// Buckets are fine (about 25% apart, 10 µs to 60 s) so p50/p95/p99 estimates are within a bucket's
// width; /metrics exposes the 1-2.5-5 subset as the histogram, plus the quantile estimates as gauges.
import type { ManifestDeployment } from '../manifest/manifest.ts';

const MANTISSAS = [1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 8];
const EXPOSED_MANTISSAS = new Set([1, 2.5, 5]);

/** Upper bounds in seconds, ascending; a last implicit bucket holds everything above (+Inf). */
export const LATENCY_BOUNDS: readonly number[] = (() => {
  const b: number[] = [];
  for (let e = -5; e <= 1; e++) for (const m of MANTISSAS) b.push(Number((m * 10 ** e).toPrecision(3)));
  b.push(30, 60);
  return b;
})();

const EXPOSED = LATENCY_BOUNDS.map((b, i) => ({ b, i })).filter(
  ({ b }) => EXPOSED_MANTISSAS.has(Number((b / 10 ** Math.floor(Math.log10(b) + 1e-9)).toPrecision(3))) || b === 60,
);

export class Histogram {
  readonly counts = new Float64Array(LATENCY_BOUNDS.length + 1);
  count = 0;
  sum = 0;

  observe(seconds: number): void {
    let lo = 0;
    let hi = LATENCY_BOUNDS.length; // first bound >= seconds, or the +Inf bucket
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (LATENCY_BOUNDS[mid]! < seconds) lo = mid + 1;
      else hi = mid;
    }
    this.counts[lo]!++;
    this.count++;
    this.sum += seconds;
  }

  /** Estimated q-quantile in seconds (linear within the bucket); NaN when empty. */
  quantile(q: number): number {
    if (this.count === 0) return Number.NaN;
    const rank = q * this.count;
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      const c = this.counts[i]!;
      if (c > 0 && seen + c >= rank) {
        const lower = i === 0 ? 0 : LATENCY_BOUNDS[i - 1]!;
        const upper = LATENCY_BOUNDS[i] ?? lower; // +Inf bucket: report its lower edge
        return lower + (upper - lower) * Math.min(1, Math.max(0, (rank - seen) / c));
      }
      seen += c;
    }
    return LATENCY_BOUNDS[LATENCY_BOUNDS.length - 1]!;
  }
}

export class VersionMetrics {
  /** Predictions that reached the version (successes + failures; inputs it refused count as rejected). */
  requests = 0;
  /** Failures of the version itself: it threw, or its upstream answered 5xx / was unreachable. */
  errors = 0;
  /** Refused as bad input (HTTP 400): the caller's fault, not the version's. */
  rejected = 0;
  /** Stopped before an answer: the client left, or a retired version's drain bound ran out. Neither counts. */
  cancelled = 0;
  inflight = 0;
  /** Latency of successful predictions only (fast failures would otherwise flatter p99). */
  readonly latency = new Histogram();
  readonly routed: Record<string, number> = {};
}

export function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

export const labels = (l: Record<string, string>): string =>
  `{${Object.entries(l)
    .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
    .join(',')}}`;

const num = (n: number): string => (Number.isNaN(n) ? 'NaN' : Number.isFinite(n) ? String(n) : n > 0 ? '+Inf' : '-Inf');

export interface MetricFamily {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  samples: [suffix: string, labels: Record<string, string>, value: number][];
}

export function renderPrometheus(families: MetricFamily[]): string {
  const out: string[] = [];
  for (const f of families) {
    out.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
    for (const [suffix, l, v] of f.samples)
      out.push(`${f.name}${suffix}${Object.keys(l).length ? labels(l) : ''} ${num(v)}`);
  }
  return `${out.join('\n')}\n`;
}

/** Families for a set of model+version metrics. */
export function versionFamilies(entries: { model: string; version: string; m: VersionMetrics }[]): MetricFamily[] {
  const fam = (name: string, help: string, type: MetricFamily['type']): MetricFamily => ({
    name,
    help,
    type,
    samples: [],
  });
  const requests = fam(
    'model_gitops_requests_total',
    'Predictions that reached a model version (successes and failures).',
    'counter',
  );
  const errors = fam('model_gitops_errors_total', 'Predictions that failed in the model version (5xx).', 'counter');
  const rejected = fam(
    'model_gitops_rejected_total',
    'Predictions refused as bad input (400), not counted as errors.',
    'counter',
  );
  const cancelled = fam(
    'model_gitops_cancelled_total',
    'Predictions stopped before an answer (the client left, or a retired version ran out of drain time), not counted as errors.',
    'counter',
  );
  const routed = fam(
    'model_gitops_routed_total',
    'Routing decisions by reason (champion, canary, override, random).',
    'counter',
  );
  const inflight = fam('model_gitops_inflight_requests', 'Predictions currently running on a version.', 'gauge');
  const latency = fam('model_gitops_request_duration_seconds', 'Latency of successful predictions.', 'histogram');
  const quantiles = fam(
    'model_gitops_request_duration_quantile_seconds',
    'Estimated latency quantiles of successful predictions (from the fine histogram).',
    'gauge',
  );
  for (const { model, version, m } of entries) {
    const l = { model, version };
    requests.samples.push(['', l, m.requests]);
    errors.samples.push(['', l, m.errors]);
    rejected.samples.push(['', l, m.rejected]);
    cancelled.samples.push(['', l, m.cancelled]);
    for (const [reason, n] of Object.entries(m.routed)) routed.samples.push(['', { ...l, reason }, n]);
    inflight.samples.push(['', l, m.inflight]);
    let cumulative = 0;
    let next = 0;
    for (const { b, i } of EXPOSED) {
      while (next <= i) cumulative += m.latency.counts[next++]!;
      latency.samples.push(['_bucket', { ...l, le: String(b) }, cumulative]);
    }
    latency.samples.push(
      ['_bucket', { ...l, le: '+Inf' }, m.latency.count],
      ['_sum', l, m.latency.sum],
      ['_count', l, m.latency.count],
    );
    for (const q of [0.5, 0.95, 0.99])
      quantiles.samples.push(['', { ...l, quantile: String(q) }, Number(m.latency.quantile(q).toPrecision(6))]);
  }
  return [requests, errors, rejected, cancelled, routed, inflight, latency, quantiles];
}

/** What /metrics reports beyond the per-version families: the generation being served. */
export interface ServingMetrics {
  versions: { model: string; version: string; m: VersionMetrics }[];
  /** The current manifest's deployments for the gateway's environment (none before the first). */
  deployments: Record<string, ManifestDeployment>;
  isLoaded(model: string, version: string): boolean;
  /** The canary version a persisted record has rolled back, if any. */
  rolledBackCanary(model: string): string | undefined;
  rollbacksTotal: number;
  /** 0 before the first manifest. */
  sequence: number;
}

/** The whole /metrics text: per-version families (sorted), then what the current manifest deploys. */
export function renderGatewayMetrics(s: ServingMetrics): string {
  const families = versionFamilies(
    [...s.versions].sort((a, b) => a.model.localeCompare(b.model) || a.version.localeCompare(b.version)),
  );
  const loaded: MetricFamily = {
    name: 'model_gitops_version_loaded',
    help: 'Versions loaded, by role in the current manifest.',
    type: 'gauge',
    samples: [],
  };
  const rolled: MetricFamily = {
    name: 'model_gitops_canary_rolled_back',
    help: '1 when the canary of a deployment has been rolled back by the gateway.',
    type: 'gauge',
    samples: [],
  };
  for (const [model, d] of Object.entries(s.deployments)) {
    loaded.samples.push(['', { model, version: d.version, role: 'champion' }, 1]);
    if (d.canary) {
      loaded.samples.push([
        '',
        { model, version: d.canary.version, role: 'canary' },
        s.isLoaded(model, d.canary.version) ? 1 : 0,
      ]);
      rolled.samples.push([
        '',
        { model, version: d.canary.version },
        s.rolledBackCanary(model) === d.canary.version ? 1 : 0,
      ]);
    }
    for (const v of d.rollbackWindow ?? []) loaded.samples.push(['', { model, version: v, role: 'rollback' }, 1]);
  }
  families.push(
    loaded,
    rolled,
    {
      name: 'model_gitops_canary_rollbacks_total',
      help: 'Automated canary rollbacks since the gateway started.',
      type: 'counter',
      samples: [['', {}, s.rollbacksTotal]],
    },
    {
      name: 'model_gitops_manifest_sequence',
      help: 'Sequence number of the manifest being served.',
      type: 'gauge',
      samples: [['', {}, s.sequence]],
    },
  );
  return renderPrometheus(families);
}
