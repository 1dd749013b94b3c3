// An environment's page: what it runs now (champion, canary and weight, rollback window, automated
// rollback rules) and its history on main and in the store.
import type { SiteData } from '../data.ts';
import type { Environment } from '../../registry/types.ts';
import { h, page, rootOf, sitePaths } from '../html.ts';
import { approval, badge, commitLink, date, eventText, footer } from './common.ts';

export function environmentPage(data: SiteData, env: Environment): string {
  const path = sitePaths.environment(env.name);
  const root = rootOf(path);
  const vlink = (model: string, v: string) =>
    data.registry.models.get(model)?.versions.has(v)
      ? h`<a href="${root + sitePaths.version(model, v)}">${v}</a>`
      : h`${v} ${badge('no card', 'fail')}`;
  const rows = [...env.deployments]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([model, d]) => {
      const known = data.registry.models.has(model);
      const rollout = d.rollout
        ? Object.entries(d.rollout)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')
        : '–';
      return h`<tr><th scope="row">${known ? h`<a href="${root + sitePaths.model(model)}">${model}</a>` : model}</th><td>${vlink(model, d.version)}</td><td>${d.canary ? h`${vlink(model, d.canary.version)} ${badge(d.canary.weight, 'canary')}` : '–'}</td><td>${d.rollbackWindow.length ? d.rollbackWindow.map((v, i) => h`${i ? ', ' : ''}${vlink(model, v)}`) : '–'}</td><td>${rollout}</td></tr>`;
    });
  const events = [...(data.eventsByEnvironment.get(env.name) ?? [])].reverse();
  const unreadable = data.history.unreadable.filter((u) => u.environment === env.name).length;
  const pubs = (data.store?.publications ?? [])
    .filter((p) => p.changes.some((c) => c.environment === env.name))
    .reverse();
  const body = h`<h1>${env.name}${data.finals.has(env.name) ? h` ${badge('final stage', 'final')}` : ''}</h1>
${env.description ? h`<p class="lede">${env.description}</p>` : ''}
<p>${env.requires ? h`A version must be in <a href="${root + sitePaths.environment(env.requires)}">${env.requires}</a> on main before it enters ${env.name}.` : 'The first stage: versions enter here.'}</p>
<section aria-labelledby="rollout-h"><h2 id="rollout-h">Current rollout</h2>
<div class="scroll"><table class="rollout"><thead><tr><th scope="col">Model</th><th scope="col">Champion</th><th scope="col">Canary and weight</th><th scope="col">Rollback window</th><th scope="col">Automated rollback</th></tr></thead><tbody>${rows}</tbody></table></div></section>
<section aria-labelledby="hist-h"><h2 id="hist-h">History on main</h2>${unreadable ? h`<p class="warning" role="note">${unreadable} earlier version(s) of ${env.file} did not parse; the history skips them.</p>` : ''}${events.length ? h`<ol class="timeline">${events.map((e) => h`<li data-role="${e.role}"><time datetime="${e.commit.date}">${date(e.commit.date)}</time> <strong>${e.model}</strong> ${eventText(e)} · ${commitLink(data, e.commit)} ${e.commit.subject} · ${approval(data, e.commit)}</li>`)}</ol>` : h`<p class="muted">No history.</p>`}</section>
${
  data.store
    ? h`<section aria-labelledby="pub-h"><h2 id="pub-h">Publications</h2>${
        pubs.length
          ? h`<ol class="publications">${pubs.map(
              (p) =>
                h`<li>sequence ${p.sequence}${p.publishedAt ? h` on <time datetime="${p.publishedAt}">${date(p.publishedAt)}</time>` : ''}${p.signed ? '' : ` ${'(never signed)'}`}${p.current ? h` ${badge('current', 'pass')}` : ''}: ${p.changes
                  .filter((c) => c.environment === env.name)
                  .flatMap((c) => c.changes.map((x) => `${x.model} ${x.before ?? 'none'} → ${x.after ?? 'removed'}`))
                  .join('; ')}</li>`,
            )}</ol>`
          : h`<p class="muted">Nothing published for ${env.name}.</p>`
      }</section>`
    : ''
}`;
  return page({ path, title: env.name, crumbs: [[env.name, undefined]], body, footer: footer(data, root) });
}
