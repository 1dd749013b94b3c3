// A version's page: the card rendered, its benchmark evidence against the champion, and "why it is
// allowed in production": each check a final stage asks for, with what proves it (a commit, a pull
// request and who merged it, the evidence digest, the store's answer) or why it is not proven.
import semver from 'semver';
import { formatBytes } from '../../lib/format.ts';
import { artifactDigest } from '../../registry/artifact-digest.ts';
import type { ModelEntry, VersionCard } from '../../registry/types.ts';
import { barChart } from '../charts.ts';
import { type SiteData, type StoredReport, reportsFor } from '../data.ts';
import type { PromotionEvent } from '../git-history.ts';
import { type Html, h, page, rootOf, safeHttpUrl, sitePaths } from '../html.ts';
import { approval, badge, commitLink, date, eventText, footer } from './common.ts';
import { placementBadges } from './model.ts';

type Status = 'pass' | 'fail' | 'unknown';
interface Check {
  name: string;
  status: Status;
  proof: Html;
}

const STATUS_TEXT: Record<Status, string> = { pass: 'passed', fail: 'failed', unknown: 'not known' };

/** The event that put `version` where it is now in `env` (the latest one that made it champion or canary). */
function entry(data: SiteData, model: string, version: string, env: string): PromotionEvent | undefined {
  const list = (data.eventsByModel.get(model) ?? []).filter(
    (e) => e.environment === env && e.to === version && e.from !== version,
  );
  return list[list.length - 1];
}

/** Whether `version` ran (champion or canary) in `env` on main strictly before commit index `before`. */
function heldBefore(
  data: SiteData,
  model: string,
  version: string,
  env: string,
  before: number,
): PromotionEvent | undefined {
  return (data.eventsByModel.get(model) ?? []).find(
    (e) => e.environment === env && e.to === version && e.commit.index >= 0 && e.commit.index < before,
  );
}

function stageChecks(data: SiteData, m: ModelEntry, card: VersionCard, env: string): Check[] {
  const version = card.version;
  const environment = data.registry.environments.get(env)!;
  const checks: Check[] = [];
  const file = m.versions.get(version)!.file;
  checks.push({
    name: 'The card is valid on main',
    status: 'pass',
    proof: h`<code>${file}</code> passed its schema and identity checks at <code>${data.commit.slice(0, 12)}</code>.`,
  });
  const came = entry(data, m.name, version, env);
  if (environment.requires !== undefined) {
    const req = environment.requires;
    const held = came ? heldBefore(data, m.name, version, req, came.commit.index) : undefined;
    checks.push(
      !came
        ? {
            name: `Held in ${req} first`,
            status: 'unknown',
            proof: h`git history does not show when it entered ${env}.`,
          }
        : held
          ? {
              name: `Held in ${req} first`,
              status: 'pass',
              proof: h`in ${req} since ${date(held.commit.date)} (${commitLink(data, held.commit)}), before it entered ${env} (${commitLink(data, came.commit)}).`,
            }
          : {
              name: `Held in ${req} first`,
              status: 'fail',
              proof: h`no commit on main shows it in ${req} before ${commitLink(data, came.commit)} put it in ${env}.`,
            },
    );
  }
  checks.push(
    came
      ? {
          name: 'Approved by pull request',
          status: came.commit.pullRequest !== undefined ? 'pass' : 'fail',
          proof: h`${eventText(came)} in ${commitLink(data, came.commit)} on ${date(came.commit.date)}: ${approval(data, came.commit)}.`,
        }
      : {
          name: 'Approved by pull request',
          status: 'unknown',
          proof: h`git history does not show the change that put it in ${env}.`,
        },
  );
  if (!data.store) {
    checks.push({ name: 'Artifacts in the store', status: 'unknown', proof: h`built without <code>--store</code>.` });
    checks.push({ name: 'Benchmark evidence', status: 'unknown', proof: h`built without <code>--store</code>.` });
    return checks;
  }
  const presence = card.artifacts.map((a) => data.store!.artifacts.get(a.sha256));
  const bad = card.artifacts.filter((_, i) => presence[i]?.status !== 'ok');
  checks.push(
    bad.length === 0
      ? {
          name: 'Artifacts in the store',
          status: 'pass',
          proof: h`all ${card.artifacts.length} file(s) are in <code>${data.store.url}</code> with the recorded size.`,
        }
      : {
          name: 'Artifacts in the store',
          status: 'fail',
          proof: h`${bad.map((a) => a.path).join(', ')}: ${bad.map((a) => data.store!.artifacts.get(a.sha256)?.detail ?? data.store!.artifacts.get(a.sha256)?.status ?? 'not checked').join('; ')}.`,
        },
  );
  const { matching } = reportsFor(data, m.name, version);
  const passing = matching.filter((r) => r.report.decision.verdict === 'pass');
  checks.push(
    passing.length
      ? {
          name: 'Benchmark evidence',
          status: 'pass',
          proof: h`${passing.map((r) => h`<span class="evidence">verdict pass on ${r.report.testbed.name} against ${r.report.champion.version}, report <code>${r.key}</code>, evidence sha256 <code class="digest">${r.sha256}</code></span>`)}`,
        }
      : {
          name: 'Benchmark evidence',
          status: 'fail',
          proof: matching.length
            ? h`reports for these bytes say ${matching.map((r) => r.report.decision.verdict).join(', ')}.`
            : h`no report in the store for artifact digest <code class="digest">${artifactDigest(card)}</code>.`,
        },
  );
  const pub = (data.store.publications ?? []).find(
    (p) =>
      p.signed &&
      p.changes.some(
        (c) =>
          c.environment === env &&
          c.changes.some((x) => x.model === m.name && (x.after ?? '').split(/[ ,]+/).includes(version)),
      ),
  );
  checks.push(
    pub
      ? {
          name: 'Published in a signed manifest',
          status: 'pass',
          proof: h`sequence ${pub.sequence}${pub.publishedAt ? h` on ${date(pub.publishedAt)}` : ''}, manifest sha256 <code class="digest">${pub.sha256}</code>${pub.source ? h` from commit <code>${pub.source.commit.slice(0, 12)}</code>` : ''}.`,
        }
      : {
          name: 'Published in a signed manifest',
          status: 'unknown',
          proof: h`no signed publication in the store records the change.`,
        },
  );
  return checks;
}

function checksList(checks: Check[]): Html {
  const n = (s: Status) => checks.filter((c) => c.status === s).length;
  return h`<p class="verdict" data-passed="${n('pass')}" data-failed="${n('fail')}"><strong>${n('pass')} of ${checks.length} checks passed</strong>${n('fail') ? `, ${n('fail')} failed` : ''}${n('unknown') ? `, ${n('unknown')} not known from here` : ''}.</p><ul class="checks">${checks.map((c) => h`<li class="check ${c.status}" data-status="${c.status}"><span class="badge ${c.status}">${STATUS_TEXT[c.status]}</span> <strong>${c.name}</strong>: ${c.proof}</li>`)}</ul>`;
}

function reportSection(r: StoredReport, i: number, current: boolean): Html {
  const d = r.report.decision;
  const groups = d.comparisons
    .filter((c) => c.kind !== 'errors')
    .map((c) => ({
      label: c.metric,
      ...(c.champion ? { champion: c.champion.median } : {}),
      challenger: c.challenger.median,
    }));
  return h`<article class="report" data-verdict="${d.verdict}" aria-labelledby="report-${i}-h">
<h3 id="report-${i}-h">${r.report.testbed.name} ${badge(d.verdict, d.verdict)}${current ? '' : h` ${badge('other bytes', 'muted', 'this report measured a different artifact digest')}`}</h3>
<dl class="facts"><dt>Champion</dt><dd>${r.report.champion.version} (${r.report.champion.selectedAs})</dd><dt>Artifact digest</dt><dd><code class="digest">${r.report.artifactDigest}</code></dd><dt>Evidence sha256</dt><dd><code class="digest">${r.sha256}</code></dd><dt>Report</dt><dd><code>${r.key}</code></dd><dt>Created</dt><dd>${r.report.createdAt}</dd><dt>Testbed</dt><dd>${[r.report.testbed.gpu, r.report.testbed.cpu].filter(Boolean).join(' · ')}</dd></dl>
${d.reasons.length ? h`<ul>${d.reasons.map((x) => h`<li>${x}</li>`)}</ul>` : ''}
${groups.length ? barChart(`Benchmark medians (${r.report.testbed.name})`, groups, `report-${i}-chart`) : ''}
<div class="scroll"><table><thead><tr><th scope="col">Metric</th><th scope="col">Check</th><th scope="col">Champion</th><th scope="col">This version</th><th scope="col">Ratio</th><th scope="col">Verdict</th></tr></thead><tbody>${d.comparisons.map((c) => h`<tr><th scope="row">${c.metric}</th><td>${c.kind}${c.allowed ? ` ${c.allowed}` : ''}</td><td class="num">${c.champion?.median ?? '–'}</td><td class="num">${c.challenger.median}</td><td class="num">${c.ratio === undefined ? '–' : c.ratio.toFixed(3)}</td><td>${badge(c.verdict, c.verdict)} ${c.reason}</td></tr>`)}</tbody></table></div>
</article>`;
}

function gitHubCommitUrl(repository: string, commit: string): string | undefined {
  const direct = safeHttpUrl(repository);
  if (direct) return `${direct.replace(/\/$/, '')}/commit/${encodeURIComponent(commit)}`;
  if (/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/.test(repository))
    return `https://github.com/${repository}/commit/${encodeURIComponent(commit)}`;
  return undefined;
}

export function versionPage(data: SiteData, m: ModelEntry, version: string): string {
  const path = sitePaths.version(m.name, version);
  const root = rootOf(path);
  const { card, file } = m.versions.get(version)!;
  const modelHref = root + sitePaths.model(m.name);
  const link = (model: string, v: string) =>
    data.registry.models.get(model)?.versions.has(v)
      ? h`<a href="${root + sitePaths.version(model, v)}">${model}@${v}</a>`
      : h`${model}@${v}`;
  const placements = data.placements.get(m.name)?.get(version) ?? [];
  const finals = data.environments.filter((e) => data.finals.has(e.name));
  const inFinal = finals.filter((e) => placements.some((p) => p.environment === e.name && p.role !== 'rollback'));
  const proofs = (inFinal.length ? inFinal : finals).map(
    (e) =>
      h`<section class="proof" data-environment="${e.name}" aria-labelledby="why-${e.name}"><h3 id="why-${e.name}">${inFinal.length ? h`Why it is allowed in ${e.name}` : h`What ${e.name} would ask for`}</h3>${checksList(inFinal.length ? stageChecks(data, m, card, e.name) : readiness(data, m, card, e.name))}</section>`,
  );
  const io = (specs: VersionCard['interface']['inputs'], kind: string) =>
    specs.map(
      (s) =>
        h`<tr><td>${kind}</td><th scope="row">${s.name}</th><td>${s.dtype}</td><td>${s.shape ? `[${s.shape.join(', ')}]` : '–'}</td><td>${s.labels ? s.labels.join(', ') : '–'}</td></tr>`,
    );
  const parent = card.lineage.parent;
  const at = parent?.lastIndexOf('@') ?? -1;
  const trainUrl = gitHubCommitUrl(card.lineage.code.repository, card.lineage.code.commit);
  const hist = data.history.cards.get(file);
  const srcUrl = data.repoUrl ? `${data.repoUrl}/blob/${data.commit}/${file}` : undefined;
  const { matching, other } = reportsFor(data, m.name, version);
  const reports = [...matching.map((r) => [r, true] as const), ...other.map((r) => [r, false] as const)];
  const events = (data.eventsByModel.get(m.name) ?? []).filter((e) => e.to === version || e.from === version).reverse();
  const presence = (sha: string) => {
    const p = data.store?.artifacts.get(sha);
    return p ? badge(p.status === 'ok' ? 'in store' : p.status, p.status === 'ok' ? 'pass' : 'fail', p.detail) : h``;
  };
  const body = h`<h1>${m.name} <span class="version">${version}</span></h1>
<p class="lede">${card.summary}</p>
<p>${placements.length ? placementBadges(data, m.name, version) : badge('not deployed', 'muted')}${card.deprecated ? h` ${badge('deprecated', 'deprecated')}` : ''}</p>
${card.deprecated ? h`<p class="warning" role="note">This version is deprecated: it should no longer be promoted.</p>` : ''}
<section aria-labelledby="why-h"><h2 id="why-h">Production readiness</h2>${proofs.length ? proofs : h`<p class="muted">The registry has no final stage.</p>`}</section>
<section aria-labelledby="iface-h"><h2 id="iface-h">Interface</h2>
<div class="scroll"><table><thead><tr><th scope="col">Side</th><th scope="col">Name</th><th scope="col">dtype</th><th scope="col">Shape</th><th scope="col">Labels</th></tr></thead><tbody>${io(card.interface.inputs, 'input')}${io(card.interface.outputs, 'output')}</tbody></table></div>
<dl class="facts">${card.interface.tokenizer ? h`<dt>Tokenizer</dt><dd>${card.interface.tokenizer.name} <code class="digest">${card.interface.tokenizer.sha256}</code></dd>` : ''}${card.interface.chatTemplate ? h`<dt>Chat template</dt><dd><code class="digest">${card.interface.chatTemplate.sha256}</code></dd>` : ''}<dt>Architecture</dt><dd>${card.architecture.family}, ${card.architecture.format}${card.architecture.dtype ? `, ${card.architecture.dtype}` : ''}${card.architecture.parameters !== undefined ? `, ${card.architecture.parameters.toLocaleString('en-US')} parameters` : ''}</dd>${card.serving?.engine ? h`<dt>Serving engine</dt><dd>${card.serving.engine}</dd>` : ''}</dl></section>
<section aria-labelledby="lineage-h"><h2 id="lineage-h">Lineage</h2><dl class="facts">
<dt>Parent</dt><dd>${parent && at > 0 ? link(parent.slice(0, at), parent.slice(at + 1)) : 'none (trained from scratch)'}</dd>
${card.base ? h`<dt>Base</dt><dd>${card.base.relation} of ${data.registry.models.has(card.base.model) ? h`<a href="${root + sitePaths.model(card.base.model)}">${card.base.model}</a>` : card.base.model} ${card.base.range}</dd>` : ''}
<dt>Training code</dt><dd>${trainUrl ? h`<a href="${trainUrl}">${card.lineage.code.repository}@${card.lineage.code.commit.slice(0, 12)}</a>` : h`${card.lineage.code.repository}@${card.lineage.code.commit}`}</dd>
${card.lineage.training ? h`<dt>Training run</dt><dd>${[card.lineage.training.started, card.lineage.training.duration_s !== undefined ? `${card.lineage.training.duration_s} s` : undefined, card.lineage.training.hardware].filter(Boolean).join(' · ')}</dd>` : ''}
${
  card.lineage.hyperparameters
    ? h`<dt>Hyperparameters</dt><dd>${Object.entries(card.lineage.hyperparameters)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')}</dd>`
    : ''
}
</dl>
${card.lineage.datasets?.length ? h`<div class="scroll"><table><thead><tr><th scope="col">Dataset</th><th scope="col">Location</th><th scope="col">sha256</th></tr></thead><tbody>${card.lineage.datasets.map((d) => h`<tr><th scope="row">${d.name}</th><td>${d.uri ?? '–'}</td><td><code class="digest">${d.sha256}</code></td></tr>`)}</tbody></table></div>` : ''}
<p><a href="${modelHref}#lineage-h">The model's lineage graph</a></p></section>
<section aria-labelledby="artifacts-h"><h2 id="artifacts-h">Artifacts</h2>
<div class="scroll"><table class="artifacts"><thead><tr><th scope="col">File</th><th scope="col">sha256</th><th scope="col">Size</th>${data.store ? h`<th scope="col">Store</th>` : ''}</tr></thead><tbody>${card.artifacts.map((a) => h`<tr><th scope="row"><code>${a.path}</code></th><td><code class="digest">${a.sha256}</code></td><td class="num" title="${a.size} bytes">${formatBytes(a.size)}</td>${data.store ? h`<td>${presence(a.sha256)}</td>` : ''}</tr>`)}</tbody></table></div>
<p>Artifact digest (what benchmark evidence is bound to): <code class="digest">${artifactDigest(card)}</code></p></section>
<section aria-labelledby="deps-h"><h2 id="deps-h">Dependencies</h2>${card.dependencies && Object.keys(card.dependencies).length ? h`<ul>${Object.entries(card.dependencies).map(([dep, range]) => h`<li>${data.registry.models.has(dep) ? h`<a href="${root + sitePaths.model(dep)}">${dep}</a>` : dep} <code>${range}</code>${resolvedIn(data, dep, range)}</li>`)}</ul>` : h`<p class="muted">None.</p>`}</section>
${card.metrics && Object.keys(card.metrics).length ? h`<section aria-labelledby="metrics-h"><h2 id="metrics-h">Offline metrics</h2><dl class="facts">${Object.entries(card.metrics).map(([k, v]) => h`<dt>${k}</dt><dd>${v}</dd>`)}</dl><p><a href="${modelHref}#metrics-h">Across versions</a></p></section>` : ''}
<section aria-labelledby="bench-h"><h2 id="bench-h">Benchmark reports</h2>${reports.length ? reports.map(([r, cur], i) => reportSection(r, i, cur)) : h`<p class="muted">${data.store ? 'No benchmark report in the store for this version.' : 'Built without --store: benchmark reports are not shown.'}</p>`}</section>
<section aria-labelledby="history-h"><h2 id="history-h">History</h2>${events.length ? h`<ol class="timeline">${events.map((e) => h`<li><time datetime="${e.commit.date}">${date(e.commit.date)}</time> <strong>${e.environment}</strong> ${eventText(e)} · ${commitLink(data, e.commit)} · ${approval(data, e.commit)}</li>`)}</ol>` : h`<p class="muted">Never deployed on main.</p>`}</section>
<section aria-labelledby="source-h"><h2 id="source-h">Source</h2><p>The card: ${srcUrl ? h`<a href="${srcUrl}"><code>${file}</code></a>` : h`<code>${file}</code>`}${hist ? h`, landed in ${commitLink(data, hist.added)} on ${date(hist.added.date)} (${approval(data, hist.added)})${hist.changed.sha !== hist.added.sha ? h`, last changed in ${commitLink(data, hist.changed)}` : ''}` : ''}.</p>${card.notes ? h`<p class="notes">${card.notes}</p>` : ''}</section>`;
  return page({
    path,
    title: `${m.name} ${version}`,
    crumbs: [
      [m.name, sitePaths.model(m.name)],
      [version, undefined],
    ],
    body,
    footer: footer(data, root),
  });
}

/** For a version not in a final stage: the same questions, so a reviewer sees what is still missing. */
function readiness(data: SiteData, m: ModelEntry, card: VersionCard, env: string): Check[] {
  const environment = data.registry.environments.get(env)!;
  const checks = stageChecks(data, m, card, env).filter(
    (c) => c.name !== 'Approved by pull request' && !c.name.startsWith('Held in') && !c.name.startsWith('Published'),
  );
  if (environment.requires !== undefined) {
    const there = data.placements
      .get(m.name)
      ?.get(card.version)
      ?.some((p) => p.environment === environment.requires && p.role !== 'rollback');
    checks.splice(1, 0, {
      name: `In ${environment.requires}`,
      status: there ? 'pass' : 'fail',
      proof: there
        ? h`runs in ${environment.requires} on main.`
        : h`not in ${environment.requires}: promote it there first.`,
    });
  }
  return checks;
}

function resolvedIn(data: SiteData, dep: string, range: string): Html {
  const where = data.environments.flatMap((e) => {
    const v = e.deployments.get(dep)?.version;
    return v ? [h`${e.name} ${v}${semver.satisfies(v, range) ? '' : ' (outside the range)'}`] : [];
  });
  return where.length ? h` <span class="muted">(${where.map((w, i) => (i ? h`, ${w}` : w))})</span>` : h``;
}
