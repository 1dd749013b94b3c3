// The front page: every model, what each environment runs, and the badges a reader scans for (a canary
// and its weight, a deprecated version still deployed, a version waiting to be promoted).
import semver from 'semver';
import type { SiteData } from '../data.ts';
import { type Html, h, page, sitePaths } from '../html.ts';
import { badge, footer } from './common.ts';

/** Environments where a model is behind the environment it requires: the newer version is pending promotion. */
export function pendingPromotions(data: SiteData, model: string): { environment: string; version: string }[] {
  const out: { environment: string; version: string }[] = [];
  for (const env of data.environments) {
    if (env.requires === undefined) continue;
    const here = env.deployments.get(model)?.version;
    const before = data.registry.environments.get(env.requires)?.deployments.get(model)?.version;
    if (before === undefined) continue;
    if (here === undefined || (semver.valid(here) && semver.valid(before) && semver.gt(before, here)))
      out.push({ environment: env.name, version: before });
  }
  return out;
}

export function indexPage(data: SiteData): string {
  const path = sitePaths.index;
  const models = [...data.registry.models.values()].sort((a, b) => a.name.localeCompare(b.name));
  let versions = 0;
  for (const m of models) versions += m.versions.size;
  const rows = models.map((m) => {
    const cells = data.environments.map((env) => {
      const d = env.deployments.get(m.name);
      if (!d) return h`<td class="none">–</td>`;
      const deprecated = m.versions.get(d.version)?.card.deprecated === true;
      return h`<td><a href="${sitePaths.version(m.name, d.version)}">${d.version}</a>${deprecated ? h` ${badge('deprecated', 'deprecated')}` : ''}${
        d.canary
          ? h` ${badge(`canary ${d.canary.version} · ${d.canary.weight}`, 'canary', `canary ${d.canary.version} takes ${d.canary.weight} of traffic`)}`
          : ''
      }</td>`;
    });
    const pending = pendingPromotions(data, m.name);
    const card = m.card;
    const search = [m.name, card?.task, card?.description, ...(card?.owners ?? []), ...(card?.tags ?? [])]
      .filter(Boolean)
      .join(' ')
      .toLowerCase();
    return h`<tr data-search="${search}">
<th scope="row"><a href="${sitePaths.model(m.name)}">${m.name}</a></th><td>${card?.task ?? '–'}</td><td>${m.versions.size}</td>${cells}<td>${pending.map((p) => badge(`${p.version} pending ${p.environment}`, 'pending', `${p.version} runs in the environment ${p.environment} requires`))}</td></tr>`;
  });
  const envLinks = data.environments.map(
    (e) =>
      h`<li><a href="${sitePaths.environment(e.name)}">${e.name}</a>${data.finals.has(e.name) ? h` ${badge('final stage', 'final')}` : ''}${e.requires ? h` <span class="muted">requires ${e.requires}</span>` : ''}</li>`,
  );
  const problems: Html = data.problems.length
    ? h`<p class="warning" role="note">${data.problems.length} registry file(s) did not load and are not shown (first: <code>${data.problems[0]!.file}</code>: ${data.problems[0]!.message}). Run <code>model-gitops validate</code>.</p>`
    : h``;
  const body = h`<h1>Model registry</h1>
<p class="lede">${models.length} model(s), ${versions} version(s), ${data.environments.length} environment(s), at commit <code>${data.commit.slice(0, 12)}</code>.</p>
${problems}
<section aria-labelledby="envs-h"><h2 id="envs-h">Environments</h2><ul class="envs">${envLinks}</ul></section>
<section aria-labelledby="models-h"><h2 id="models-h">Models</h2>
<div class="search"><label for="model-search">Search models</label> <input id="model-search" type="search" autocomplete="off" placeholder="name, task, owner, tag" aria-describedby="search-status"> <span id="search-status" role="status" aria-live="polite">${models.length} model(s)</span></div>
<div class="scroll"><table id="models" class="models">
<thead><tr><th scope="col">Model</th><th scope="col">Task</th><th scope="col">Versions</th>${data.environments.map((e) => h`<th scope="col">${e.name}</th>`)}<th scope="col">Pending</th></tr></thead>
<tbody>
${rows}
</tbody></table></div>
<p id="no-match" class="muted" hidden>No model matches.</p>
</section>`;
  return page({ path, title: 'Models', crumbs: [], body, footer: footer(data, ''), script: true });
}
