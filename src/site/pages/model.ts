// A model's page: its versions, each metric across versions, the lineage graph and the promotion
// timeline of every environment.
import semver from 'semver';
import type { SiteData } from '../data.ts';
import type { ModelEntry } from '../../registry/types.ts';
import { lineChart } from '../charts.ts';
import { type Html, h, page, rootOf, sitePaths } from '../html.ts';
import { type LineageEdge, type LineageNode, lineageGraph } from '../lineage.ts';
import { approval, badge, commitLink, date, eventText, footer } from './common.ts';

const MAX_METRIC_CHARTS = 6;

export function placementBadges(data: SiteData, model: string, version: string): Html[] {
  return (data.placements.get(model)?.get(version) ?? []).map((p) =>
    p.role === 'champion'
      ? badge(p.environment, data.finals.has(p.environment) ? 'runs final' : 'runs')
      : p.role === 'canary'
        ? badge(`${p.environment} canary ${p.weight}`, 'canary')
        : badge(`${p.environment} rollback`, 'rollback'),
  );
}

/** The lineage graph of a model (links are relative to `from`, the page it is drawn on). */
export function modelLineage(data: SiteData, m: ModelEntry, from: string, current?: string): Html {
  const root = rootOf(from);
  const nodes = new Map<string, LineageNode>();
  const edges: LineageEdge[] = [];
  const inFinal = (v: string) =>
    (data.placements.get(m.name)?.get(v) ?? []).some((p) => p.role !== 'rollback' && data.finals.has(p.environment));
  const versionNode = (model: string, version: string): string => {
    const id = `v:${model}@${version}`;
    if (!nodes.has(id)) {
      const known = data.registry.models.get(model)?.versions.has(version);
      nodes.set(id, {
        id,
        kind: model === m.name ? 'version' : 'external',
        label: model === m.name ? version : `${model}@${version}`,
        ...(known ? { href: root + sitePaths.version(model, version) } : {}),
        ...(model === m.name && (current === undefined ? inFinal(version) : current === version)
          ? { current: true }
          : {}),
      });
    }
    return id;
  };
  const order = [...(data.versionOrder.get(m.name) ?? [])].reverse();
  for (const v of order) versionNode(m.name, v);
  for (const v of order) {
    const card = m.versions.get(v)!.card;
    const me = versionNode(m.name, v);
    const parent = card.lineage.parent;
    const at = parent?.lastIndexOf('@') ?? -1;
    if (parent && at > 0) edges.push({ from: versionNode(parent.slice(0, at), parent.slice(at + 1)), to: me });
    if (card.base) {
      const id = `m:${card.base.model}`;
      if (!nodes.has(id))
        nodes.set(id, {
          id,
          kind: 'model',
          label: `${card.base.model} ${card.base.range}`,
          ...(data.registry.models.has(card.base.model) ? { href: root + sitePaths.model(card.base.model) } : {}),
        });
      edges.push({ from: id, to: me, label: card.base.relation });
    }
    for (const d of card.lineage.datasets ?? []) {
      const id = `d:${d.name}:${d.sha256}`;
      if (!nodes.has(id)) nodes.set(id, { id, kind: 'dataset', label: d.name });
      edges.push({ from: id, to: me });
    }
  }
  // Versions of other models built on this one (adapters, merges, quantized builds).
  for (const d of data.derived.get(m.name) ?? []) {
    const card = data.registry.models.get(d.model)!.versions.get(d.version)!.card;
    const id = versionNode(d.model, d.version);
    const target = [...m.versions.keys()].filter((x) => semver.satisfies(x, card.base!.range)).sort(semver.rcompare)[0];
    if (target) edges.push({ from: versionNode(m.name, target), to: id, label: card.base!.relation });
  }
  return lineageGraph(`Lineage of ${m.name}`, [...nodes.values()], edges, 'lineage');
}

export function modelPage(data: SiteData, m: ModelEntry): string {
  const path = sitePaths.model(m.name);
  const root = rootOf(path);
  const newest = data.versionOrder.get(m.name) ?? [];
  const oldest = [...newest].reverse();
  const card = m.card;
  const metricNames = [...new Set(oldest.flatMap((v) => Object.keys(m.versions.get(v)!.card.metrics ?? {})))].sort();
  const versionHref = (v: string) => root + sitePaths.version(m.name, v);
  const charts = metricNames.slice(0, MAX_METRIC_CHARTS).map((metric, i) =>
    lineChart(
      metric,
      oldest
        .filter((v) => typeof m.versions.get(v)!.card.metrics?.[metric] === 'number')
        .map((v) => ({ label: v, value: m.versions.get(v)!.card.metrics![metric]!, href: versionHref(v) })),
      `metric-${i}`,
    ),
  );
  const rows = newest.map((v) => {
    const c = m.versions.get(v)!.card;
    const hist = data.history.cards.get(m.versions.get(v)!.file);
    return h`<tr><th scope="row"><a href="${versionHref(v)}">${v}</a></th><td>${c.summary}</td><td>${hist ? date(hist.added.date) : '–'}</td><td>${placementBadges(data, m.name, v)}${c.deprecated ? badge('deprecated', 'deprecated') : ''}</td>${metricNames.slice(0, 4).map((k) => h`<td class="num">${c.metrics?.[k] ?? '–'}</td>`)}</tr>`;
  });
  const events = data.eventsByModel.get(m.name) ?? [];
  const timeline = data.environments.map((env) => {
    const list = events.filter((e) => e.environment === env.name).reverse();
    const pubs = (data.store?.publications ?? []).flatMap((p) =>
      p.changes
        .filter((c) => c.environment === env.name)
        .flatMap((c) => c.changes.filter((x) => x.model === m.name).map((x) => ({ p, x }))),
    );
    return h`<section class="timeline-env" aria-labelledby="tl-${env.name}"><h3 id="tl-${env.name}"><a href="${root}${sitePaths.environment(env.name)}">${env.name}</a></h3>
${list.length ? h`<ol class="timeline" data-environment="${env.name}">${list.map((e) => h`<li data-role="${e.role}"><time datetime="${e.commit.date}">${date(e.commit.date)}</time> <strong>${eventText(e)}</strong> · ${commitLink(data, e.commit)} ${e.commit.subject} · ${approval(data, e.commit)}</li>`)}</ol>` : h`<p class="muted">No change of ${m.name} in ${env.name} on main.</p>`}
${pubs.length ? h`<p>Published:</p><ol class="publications">${pubs.reverse().map(({ p, x }) => h`<li>sequence ${p.sequence}${p.publishedAt ? h` on <time datetime="${p.publishedAt}">${date(p.publishedAt)}</time>` : ''}: ${x.before ?? 'none'} → ${x.after ?? 'removed'}${p.signed ? '' : ' (never signed)'}</li>`)}</ol>` : ''}
</section>`;
  });
  const body = h`<h1>${m.name}</h1>
${card ? h`<p class="lede">${card.description}</p><dl class="facts"><dt>Task</dt><dd>${card.task}</dd><dt>Owners</dt><dd>${card.owners.join(', ')}</dd>${card.tags?.length ? h`<dt>Tags</dt><dd>${card.tags.join(', ')}</dd>` : ''}</dl>` : h`<p class="warning">models/${m.name}/model.yaml is missing or invalid.</p>`}
<section aria-labelledby="versions-h"><h2 id="versions-h">Versions</h2>
<div class="scroll"><table class="versions"><thead><tr><th scope="col">Version</th><th scope="col">Summary</th><th scope="col">Landed</th><th scope="col">Runs in</th>${metricNames.slice(0, 4).map((k) => h`<th scope="col">${k}</th>`)}</tr></thead><tbody>${rows}</tbody></table></div></section>
<section aria-labelledby="metrics-h"><h2 id="metrics-h">Metrics across versions</h2>${charts.length ? h`<div class="charts">${charts}</div>` : h`<p class="muted">No version records metrics.</p>`}${metricNames.length > MAX_METRIC_CHARTS ? h`<p class="muted">${metricNames.length - MAX_METRIC_CHARTS} more metric(s) in the version pages.</p>` : ''}</section>
<section aria-labelledby="lineage-h"><h2 id="lineage-h">Lineage</h2>${modelLineage(data, m, path)}</section>
<section aria-labelledby="timeline-h"><h2 id="timeline-h">Promotion timeline</h2>${timeline}</section>`;
  return page({ path, title: m.name, crumbs: [[m.name, undefined]], body, footer: footer(data, root) });
}
