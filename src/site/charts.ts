// Charts drawn to SVG when the site is built, so a page needs no script and loads nothing to show
// them. d3-scale and d3-shape compute the scales, ticks and path strings in Node without a DOM: they are
// the maintained core of D3 (ISC, no dependencies beyond d3-array/d3-path), the de facto standard for
// chart geometry; a browser chart library (Chart.js, ECharts) would need a canvas or a DOM at view time
// and a script on every page, which the pages' CSP and file:// use rule out. Every chart comes with its
// numbers as a table for screen readers and copy-paste.
import { scaleBand, scaleLinear, scalePoint } from 'd3-scale';
import { line } from 'd3-shape';
import { type Html, esc, h, raw } from './html.ts';

const W = 560;
const H = 220;
const M = { top: 16, right: 16, bottom: 40, left: 56 };

const num = (n: number) => (Number.isInteger(n) ? String(n) : n.toPrecision(4).replace(/\.?0+$/, ''));
const r2 = (n: number) => Math.round(n * 100) / 100;

export interface SeriesPoint {
  label: string;
  value: number;
  /** Site path (relative) the point links to. */
  href?: string;
}

/** A metric across versions: one circle per version that reports it, oldest to newest. */
export function lineChart(title: string, points: SeriesPoint[], id: string): Html {
  const x = scalePoint<string>()
    .domain(points.map((p) => p.label))
    .range([M.left, W - M.right])
    .padding(0.5);
  const values = points.map((p) => p.value);
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const pad = lo === hi ? Math.abs(lo) * 0.05 || 1 : (hi - lo) * 0.1;
  const y = scaleLinear()
    .domain([lo - pad, hi + pad])
    .nice()
    .range([H - M.bottom, M.top]);
  const path =
    line<SeriesPoint>()
      .x((p) => r2(x(p.label)!))
      .y((p) => r2(y(p.value)))(points) ?? '';
  const yTicks = y.ticks(5);
  const grid = yTicks.map((t) =>
    raw(
      `<g class="tick"><line x1="${M.left}" x2="${W - M.right}" y1="${r2(y(t))}" y2="${r2(y(t))}"/><text x="${M.left - 6}" y="${r2(y(t)) + 4}" text-anchor="end">${esc(num(t))}</text></g>`,
    ),
  );
  const every = Math.max(1, Math.ceil(points.length / 12)); // label at most ~12 versions on the axis
  const xLabels = points.map((p, i) =>
    i % every === 0 || i === points.length - 1
      ? raw(
          `<text class="x-label" x="${r2(x(p.label)!)}" y="${H - M.bottom + 18}" text-anchor="middle">${esc(p.label)}</text>`,
        )
      : raw(''),
  );
  const dots = points.map((p) => {
    const c = `<circle class="point" cx="${r2(x(p.label)!)}" cy="${r2(y(p.value))}" r="4" data-label="${esc(p.label)}" data-value="${esc(p.value)}"><title>${esc(`${p.label}: ${num(p.value)}`)}</title></circle>`;
    return raw(p.href ? `<a href="${esc(p.href)}" aria-label="${esc(`${p.label}: ${num(p.value)}`)}">${c}</a>` : c);
  });
  // A picture with links in it is a group, not an image (an image's content is not interactive).
  const role = points.some((p) => p.href) ? 'group' : 'img';
  return h`<figure class="chart" data-chart="line" data-points="${points.length}" id="${id}">
<figcaption>${title}</figcaption>
<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="${role}" aria-labelledby="${id}-t" xmlns="http://www.w3.org/2000/svg">
<title id="${id}-t">${`${title} across ${points.length} version(s)`}</title>
${grid}<line class="axis" x1="${M.left}" x2="${W - M.right}" y1="${H - M.bottom}" y2="${H - M.bottom}"/>
<path class="series" d="${path}"/>
${dots}${xLabels}
</svg>
${dataTable(
  title,
  ['version', title],
  points.map((p) => [p.label, num(p.value)]),
)}
</figure>`;
}

export interface BarGroup {
  label: string;
  champion?: number;
  challenger: number;
}

/** Champion vs challenger medians per metric: two bars per metric (one when the champion has none). */
export function barChart(title: string, groups: BarGroup[], id: string): Html {
  const x0 = scaleBand<string>()
    .domain(groups.map((g) => g.label))
    .range([M.left, W - M.right])
    .padding(0.25);
  const x1 = scaleBand<string>().domain(['champion', 'challenger']).range([0, x0.bandwidth()]).padding(0.1);
  // Metrics differ in unit, so each group is drawn relative to its own larger value (100%); the
  // numbers are in the bars' titles and the table.
  const y = scaleLinear()
    .domain([0, 1])
    .range([H - M.bottom, M.top]);
  const bars: Html[] = [];
  let count = 0;
  for (const g of groups) {
    const max = Math.max(Math.abs(g.champion ?? 0), Math.abs(g.challenger)) || 1;
    for (const side of ['champion', 'challenger'] as const) {
      const v = g[side];
      if (v === undefined) continue;
      count++;
      const top = r2(y(Math.abs(v) / max));
      bars.push(
        raw(
          `<rect class="bar ${side}" x="${r2(x0(g.label)! + x1(side)!)}" y="${top}" width="${r2(x1.bandwidth())}" height="${r2(H - M.bottom - top)}" data-metric="${esc(g.label)}" data-side="${side}" data-value="${esc(v)}"><title>${esc(`${g.label} ${side}: ${num(v)}`)}</title></rect>`,
        ),
      );
    }
    bars.push(
      raw(
        `<text class="x-label" x="${r2(x0(g.label)! + x0.bandwidth() / 2)}" y="${H - M.bottom + 18}" text-anchor="middle">${esc(g.label)}</text>`,
      ),
    );
  }
  return h`<figure class="chart" data-chart="bar" data-points="${count}" id="${id}">
<figcaption>${title} <span class="legend">each metric drawn against its larger value · <span class="swatch champion" aria-hidden="true"></span> champion <span class="swatch challenger" aria-hidden="true"></span> this version</span></figcaption>
<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-labelledby="${id}-t" xmlns="http://www.w3.org/2000/svg">
<title id="${id}-t">${`${title}: champion and challenger medians for ${groups.length} metric(s)`}</title>
<line class="axis" x1="${M.left}" x2="${W - M.right}" y1="${H - M.bottom}" y2="${H - M.bottom}"/>
${bars}
</svg>
${dataTable(
  title,
  ['metric', 'champion', 'this version'],
  groups.map((g) => [g.label, g.champion === undefined ? '–' : num(g.champion), num(g.challenger)]),
)}
</figure>`;
}

function dataTable(title: string, head: string[], rows: string[][]): Html {
  return h`<details class="chart-data"><summary>${title}: the numbers</summary><table><thead><tr>${head.map((c) => h`<th scope="col">${c}</th>`)}</tr></thead><tbody>${rows.map((r) => h`<tr>${r.map((c, i) => (i === 0 ? h`<th scope="row">${c}</th>` : h`<td>${c}</td>`))}</tr>`)}</tbody></table></details>`;
}
