// `select`: the versions an environment serves that meet stated requirements, best first by one stated
// rule, and for every other one the reasons it was left out. Reads only the published manifest: task
// (model.yaml), architecture, the card's metrics and the benchmark summary that gated the version.
import { UserError } from '../lib/errors.ts';
import { describeDeprecation, isPastSunset } from '../manifest/deprecation.ts';
import { type Manifest, manifestEnvironment } from '../manifest/manifest.ts';

export interface SelectCriteria {
  environment: string;
  task?: string;
  maxLatencyP99Ms?: number;
  /** metric -> minimum; read from the benchmark summary first (measured), else the card's metrics. */
  min?: Record<string, number>;
  maxParameters?: number;
  format?: string;
  now?: Date;
}

export interface Candidate {
  model: string;
  version: string;
  role: 'champion' | 'canary';
  task: string | null;
  format: string;
  parameters: number | null;
  latencyP99Ms: number | null;
  metrics: Record<string, number>;
  benchmark: { testbed: string; verdict: string } | null;
  deprecated: string | null;
}

export interface SelectResult {
  environment: string;
  manifest: { sequence: number; publishedAt: string };
  rule: string;
  qualified: Candidate[];
  excluded: { candidate: Candidate; reasons: string[] }[];
}

/** `accuracy=0.9` → ['accuracy', 0.9]; anything else is a usage error that shows the form. */
export function parseMinimum(s: string): [string, number] {
  const m = /^([A-Za-z_][\w.-]*)=(.+)$/.exec(s);
  const v = m ? Number(m[2]) : Number.NaN;
  if (!m || m[2]!.trim() === '' || !Number.isFinite(v))
    throw new UserError(`--min must be METRIC=NUMBER (e.g. --min accuracy=0.9), got "${s}"`);
  return [m[1]!, v];
}

export function selectVersions(manifest: Manifest, c: SelectCriteria): SelectResult {
  const env = manifestEnvironment(manifest, c.environment, `manifest sequence ${manifest.sequence}`);
  const now = c.now ?? new Date();
  const mins = Object.entries(c.min ?? {});
  const primary = mins[0]?.[0] ?? 'accuracy';
  const candidates: Candidate[] = [];
  for (const [model, d] of Object.entries(env.models)) {
    const roles: [string, Candidate['role']][] = [[d.version, 'champion']];
    if (d.canary) roles.push([d.canary.version, 'canary']);
    for (const [version, role] of roles) {
      const v = manifest.models[model]?.versions[version];
      if (!v) continue;
      const metrics = { ...(v.metrics ?? {}), ...(v.benchmark?.metrics ?? {}) };
      candidates.push({
        model,
        version,
        role,
        task: manifest.models[model]?.task ?? null,
        format: v.architecture.format,
        parameters: v.architecture.parameters ?? null,
        latencyP99Ms: v.benchmark?.metrics.latency_p99_ms ?? null,
        metrics,
        benchmark: v.benchmark ? { testbed: v.benchmark.testbed, verdict: v.benchmark.verdict } : null,
        deprecated: v.deprecation ? describeDeprecation(v.deprecation, now) : null,
        ...(v.deprecation && isPastSunset(v.deprecation, now) ? { pastSunset: true } : {}),
      } as Candidate);
    }
  }
  const qualified: Candidate[] = [];
  const excluded: SelectResult['excluded'] = [];
  for (const cand of candidates) {
    const why: string[] = [];
    if (c.task !== undefined && cand.task !== c.task)
      why.push(`task is ${cand.task ?? 'not published'}, not ${c.task}`);
    if (c.format !== undefined && cand.format !== c.format) why.push(`format is ${cand.format}, not ${c.format}`);
    if (c.maxParameters !== undefined) {
      if (cand.parameters === null) why.push('parameters not published (architecture.parameters)');
      else if (cand.parameters > c.maxParameters) why.push(`${cand.parameters} parameters > ${c.maxParameters}`);
    }
    if (c.maxLatencyP99Ms !== undefined) {
      if (cand.latencyP99Ms === null) why.push('no benchmarked latency_p99_ms');
      else if (cand.latencyP99Ms > c.maxLatencyP99Ms)
        why.push(`latency p99 ${cand.latencyP99Ms} ms > ${c.maxLatencyP99Ms} ms`);
    }
    for (const [name, min] of mins) {
      const got = cand.metrics[name];
      if (got === undefined) why.push(`no metric ${name}`);
      else if (got < min) why.push(`${name} ${got} < ${min}`);
    }
    if ((cand as Candidate & { pastSunset?: boolean }).pastSunset) why.push(`${cand.deprecated}`);
    delete (cand as Candidate & { pastSunset?: boolean }).pastSunset;
    if (why.length) excluded.push({ candidate: cand, reasons: why });
    else qualified.push(cand);
  }
  const rank = (a: Candidate, b: Candidate) =>
    Number(a.deprecated !== null) - Number(b.deprecated !== null) ||
    (b.metrics[primary] ?? Number.NEGATIVE_INFINITY) - (a.metrics[primary] ?? Number.NEGATIVE_INFINITY) ||
    (a.latencyP99Ms ?? Number.POSITIVE_INFINITY) - (b.latencyP99Ms ?? Number.POSITIVE_INFINITY) ||
    (a.parameters ?? Number.POSITIVE_INFINITY) - (b.parameters ?? Number.POSITIVE_INFINITY) ||
    Number(a.role === 'canary') - Number(b.role === 'canary') ||
    a.model.localeCompare(b.model) ||
    a.version.localeCompare(b.version);
  qualified.sort(rank);
  excluded.sort((a, b) => rank(a.candidate, b.candidate));
  return {
    environment: c.environment,
    manifest: { sequence: manifest.sequence, publishedAt: manifest.publishedAt },
    rule: `not deprecated first, then higher ${primary}, then lower latency p99, then fewer parameters, then champion before canary, then name`,
    qualified,
    excluded,
  };
}
