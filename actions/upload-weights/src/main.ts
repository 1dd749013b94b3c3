// GitHub Action adapter for `push`: mask credentials, inputs -> core -> summary, outputs, one failure.
import * as core from '@actions/core';
import { spawnSync } from 'node:child_process';
import { relative, resolve } from 'node:path';
import { isUserError, UserError } from '../../../src/lib/errors.ts';
import { git } from '../../../src/lib/git.ts';
import { pushModel, redactUrl, resolveStoreUrl, urlCredentials } from '../../../src/authoring/push-model.ts';
import type { PushModelResult } from '../../../src/authoring/push-model.ts';
import { annotate, escapeHtml } from '../../shared/annotations.ts';

/**
 * Register every credential with the runner before anything can print one: the runner then replaces
 * it with *** in all later log lines. Done first thing, and this action never prints them itself.
 */
function maskCredentials(): void {
  for (const name of ['AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) {
    const v = process.env[name];
    if (v) core.setSecret(v);
  }
  for (const name of ['INPUT_STORE', 'MODEL_GITOPS_STORE']) {
    for (const secret of urlCredentials(process.env[name] ?? '')) core.setSecret(secret);
  }
}

const bool = (name: string): boolean => {
  const v = (core.getInput(name) || 'false').toLowerCase();
  if (v !== 'true' && v !== 'false') throw new UserError(`input ${name} must be 'true' or 'false', got "${v}"`);
  return v === 'true';
};

function human(n: number): string {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${u[i]}`;
}

async function run(): Promise<void> {
  maskCredentials();
  const path = core.getInput('path', { required: true });
  const model = core.getInput('model', { required: true });
  const version = core.getInput('version', { required: true });
  const repo = core.getInput('repo') || '.';
  const storeUrl = resolveStoreUrl(repo, core.getInput('store') || undefined);
  const dryRun = bool('dry-run');
  const commitCard = bool('commit-card');
  const opt = (name: string) => core.getInput(name) || undefined;
  let codeRepository = opt('code-repo');
  let codeCommit = opt('code-commit');
  if (!codeRepository && process.env.GITHUB_REPOSITORY) {
    codeRepository = process.env.GITHUB_REPOSITORY;
    core.info(`code-repo not set: a new card records GITHUB_REPOSITORY (${codeRepository}) as the training code; set code-repo and code-commit if the training code lives elsewhere`);
  }
  if (!codeCommit && process.env.GITHUB_SHA) {
    codeCommit = process.env.GITHUB_SHA;
    core.info(`code-commit not set: a new card records GITHUB_SHA (${codeCommit})`);
  }
  const card = {
    ...(opt('summary') ? { summary: opt('summary') } : {}),
    ...(codeRepository ? { codeRepository } : {}),
    ...(codeCommit ? { codeCommit } : {}),
    ...(opt('parent') ? { parent: opt('parent') } : {}),
    ...(opt('interface-from') ? { interfaceFrom: opt('interface-from') } : {}),
    ...(opt('family') ? { family: opt('family') } : {}),
  };
  core.info(`${dryRun ? 'dry run: ' : ''}pushing ${path} as ${model} ${version} to ${redactUrl(storeUrl)}`);
  const r = await pushModel({ dir: path, model, version, repo, storeUrl, dryRun, ...card });
  for (const n of r.notes) core.notice(n);
  const workspace = process.env.GITHUB_WORKSPACE ?? process.cwd();
  const prefix = relative(workspace, resolve(repo));
  annotate(r.diagnostics, prefix);

  let commit: string | undefined;
  if (commitCard && r.card.written) {
    // A fresh runner has no git identity; commit as the Actions bot unless one is configured.
    const configured = spawnSync('git', ['config', '--get', 'user.email'], { cwd: repo, encoding: 'utf8' }).stdout.trim() !== '';
    const identity = configured ? [] : ['-c', 'user.name=github-actions[bot]', '-c', 'user.email=41898282+github-actions[bot]@users.noreply.github.com'];
    git(repo, ['add', '--', r.card.path]);
    git(repo, [...identity, 'commit', '-m', `${model} ${version}: ${r.card.status} card from upload-weights`, '-m', `Artifacts recorded by model-gitops push (${r.totals.files} files, ${human(r.totals.bytes)}).`, '--', r.card.path]);
    commit = git(repo, ['rev-parse', 'HEAD']).trim();
  }
  await writeSummary(r, commit);
  core.setOutput('card-path', r.card.path);
  core.setOutput('card-status', r.card.status);
  core.setOutput('files', String(r.totals.files));
  core.setOutput('bytes-sent', String(r.totals.sentBytes));
  core.setOutput('bytes-deduplicated', String(r.totals.deduplicatedBytes));
  core.setOutput('throughput', String(r.throughputBytesPerSecond));
  if (commit) core.setOutput('commit', commit);
  if (!r.valid && !r.card.draft) {
    core.setFailed(`${r.card.path} would leave the registry invalid (${r.errors} error(s), see the annotations); the card was not written. Uploaded blobs stay in the store, which is harmless: they are content-addressed.`);
  }
}

async function writeSummary(r: PushModelResult, commit: string | undefined): Promise<void> {
  const t = r.totals;
  core.summary.addHeading(`Weights: ${escapeHtml(r.model)} ${escapeHtml(r.version)}${r.dryRun ? ' (dry run)' : ''}`, 2);
  core.summary.addTable([
    [{ data: 'Files', header: true }, { data: 'Bytes', header: true }, { data: r.dryRun ? 'Would send' : 'Bytes sent', header: true }, { data: 'Bytes deduplicated', header: true }, { data: 'Throughput', header: true }],
    [String(t.files), human(t.bytes), human(r.dryRun ? t.toSendBytes : t.sentBytes), human(t.deduplicatedBytes), t.sentBytes > 0 ? `${human(r.throughputBytesPerSecond)}/s` : '-'],
  ]);
  core.summary.addTable([
    [{ data: 'File', header: true }, { data: 'Size', header: true }, { data: 'sha256', header: true }, { data: 'Sent', header: true }],
    ...r.files.map((f) => [escapeHtml(f.path), human(f.size), `<code>${f.sha256.slice(0, 16)}…</code>`, f.deduplicated ? 'deduplicated' : r.dryRun ? 'would send' : human(f.sent)]),
  ]);
  const verdict = !r.valid && !r.card.draft ? `not written: it would leave the registry invalid (${r.errors} error(s))`
    : r.dryRun ? `would be ${r.card.status}` : r.card.status;
  core.summary.addRaw(`<p>Card <code>${escapeHtml(r.card.path)}</code>: ${escapeHtml(verdict)}${commit ? `, committed ${commit.slice(0, 12)}` : ''}. Store: <code>${escapeHtml(r.store)}</code>.</p>`, true);
  await core.summary.write();
}

run().catch((e: unknown) => core.setFailed(isUserError(e) ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e)));
