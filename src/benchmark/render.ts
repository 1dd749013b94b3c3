// The report as Markdown for people: a verdict line, a champion/challenger table and a Mermaid chart
// GitHub renders. Pure text; the action decides where it goes (job summary, pull-request comment).
import type { BenchmarkReport } from './report.ts';
import { median } from './stats.ts';

export const COMMENT_MARKER = '<!-- model-gitops:benchmark -->';

/** A second hidden line so each model keeps its own comment when a PR promotes several models. */
export function commentKey(model: string): string {
  return `<!-- model-gitops:benchmark model=${model} -->`;
}

const ICON = { pass: '✅ pass', fail: '❌ fail', inconclusive: '⚠️ inconclusive' } as const;

function med(r: BenchmarkReport, side: 'champion' | 'challenger', metric: string): number | undefined {
  const v = r.runs
    .filter((x) => x.side === side && x.error === undefined)
    .map((x) => x.metrics[metric])
    .filter((n): n is number => typeof n === 'number');
  return v.length ? median(v) : undefined;
}

function num(x: number | undefined | null, digits = 4): string {
  if (x === undefined || x === null || !Number.isFinite(x)) return '–';
  const a = Math.abs(x);
  return a >= 1000
    ? x.toFixed(0)
    : a >= 100
      ? x.toFixed(1)
      : a >= 1
        ? x.toFixed(3)
        : x.toPrecision(digits >= 3 ? 3 : digits);
}

function change(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || a === 0) return '–';
  const c = (b / a - 1) * 100;
  return `${c >= 0 ? '+' : ''}${c.toFixed(1)}%`;
}

const escapeCell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function renderMarkdown(r: BenchmarkReport, options: { marker?: boolean; reportUrl?: string } = {}): string {
  const d = r.decision;
  const out: string[] = [];
  if (options.marker) out.push(COMMENT_MARKER, commentKey(r.model));
  const bs = r.workload.batchSizes[0];
  out.push(`### Benchmark: ${r.model} ${r.champion.version} → ${r.version} — ${ICON[d.verdict]}`);
  out.push('');
  out.push(
    `Testbed **${r.testbed.name}**: ${r.testbed.gpu ?? 'no GPU'}${r.testbed.driver ? ` (driver ${r.testbed.driver}${r.testbed.cuda ? `, CUDA ${r.testbed.cuda}` : ''})` : ''}, ${r.testbed.cpu}. ` +
      `${r.runs.filter((x) => x.side === 'challenger').length} interleaved runs per version, golden set \`${r.workload.goldenSetSha256.slice(0, 12)}\`, challenger artifacts \`${r.artifactDigest.slice(0, 19)}\`.`,
  );
  out.push('');
  out.push(`| metric | champion ${r.champion.version} | challenger ${r.version} | change | check | verdict |`);
  out.push('| --- | ---: | ---: | ---: | --- | --- |');
  const checked = new Set<string>();
  for (const c of d.comparisons) {
    checked.add(c.metric);
    const rule =
      c.kind === 'regression'
        ? `≤ ${c.allowed} worse; CI [${num(c.ci?.[0] ?? null)}, ${num(c.ci?.[1] ?? null)}]`
        : c.kind === 'threshold'
          ? [c.bound?.min !== undefined ? `≥ ${c.bound.min}` : '', c.bound?.max !== undefined ? `≤ ${c.bound.max}` : '']
              .filter(Boolean)
              .join(', ')
          : 'no errors';
    out.push(
      `| ${c.metric} | ${num(c.champion?.median)} | ${num(c.challenger.median)} | ${change(c.champion?.median, c.challenger.median)} | ${escapeCell(rule)} | ${ICON[c.verdict]} |`,
    );
  }
  for (const m of [
    'latency_p50_ms',
    'latency_p95_ms',
    'latency_p99_ms',
    'throughput',
    'ttft_p50_ms',
    'tpot_p50_ms',
    'peak_memory_mb',
    'accuracy',
  ]) {
    if (checked.has(m)) continue;
    const a = med(r, 'champion', m),
      b = med(r, 'challenger', m);
    if (a === undefined && b === undefined) continue;
    out.push(
      `| ${m}${m.includes('latency') || m === 'throughput' ? ` (batch ${bs})` : ''} | ${num(a)} | ${num(b)} | ${change(a, b)} | – | info |`,
    );
  }
  out.push('');
  if (d.verdict !== 'pass' || d.reasons.length) {
    out.push(d.verdict === 'pass' ? '' : `**Why ${d.verdict}:**`);
    for (const reason of d.reasons.slice(0, 12)) out.push(`- ${escapeCell(reason)}`);
    out.push('');
  }
  const p50a = med(r, 'champion', 'latency_p50_ms'),
    p50b = med(r, 'challenger', 'latency_p50_ms');
  const p99a = med(r, 'champion', 'latency_p99_ms'),
    p99b = med(r, 'challenger', 'latency_p99_ms');
  if ([p50a, p50b, p99a, p99b].every((x) => x !== undefined && Number.isFinite(x))) {
    const v = (x: number | undefined) => Number(x!.toPrecision(4));
    out.push('```mermaid');
    out.push('xychart-beta');
    out.push(`    title "Latency at batch size ${bs} (ms, median of runs)"`);
    out.push(
      `    x-axis ["p50 ${r.champion.version}", "p50 ${r.version}", "p99 ${r.champion.version}", "p99 ${r.version}"]`,
    );
    out.push('    y-axis "ms"');
    out.push(`    bar [${[p50a, p50b, p99a, p99b].map(v).join(', ')}]`);
    out.push('```');
    out.push('');
  }
  const m = d.method;
  out.push(
    `<sub>Rule: median per version over ${m.minRuns}+ runs; ${Math.round(m.confidence * 100)}% percentile-bootstrap CI (${m.resamples} resamples, seed ${m.seed}) of challenger/champion; pass only if the CI's worst end is within the allowance.${options.reportUrl ? ` [Full report](${options.reportUrl})` : ''}</sub>`,
  );
  return out.join('\n') + '\n';
}
