// GitHub Action adapter for `push`: mask credentials, inputs -> core -> summary, outputs, one failure.
import * as core from '@actions/core';
import { formatBytes, formatRate } from '../../../src/lib/format.ts';
import { git, runGit } from '../../../src/lib/git.ts';
import { pushModel, redactUrl, resolveStoreUrl, urlCredentials } from '../../../src/authoring/push-model.ts';
import { parseBaseRelation } from '../../../src/authoring/intake/base.ts';
import type { PushModelResult } from '../../../src/authoring/push-model.ts';
import { annotate, escapeHtml, workspacePrefix } from '../../shared/annotations.ts';
import { booleanInput, optionalInput, requiredInput, stringInput } from '../../shared/inputs.ts';
import { runAction } from '../../shared/run.ts';

/** The inputs of action.yml. */
const INPUT = {
  path: 'path',
  model: 'model',
  version: 'version',
  store: 'store',
  repo: 'repo',
  summary: 'summary',
  codeRepo: 'code-repo',
  codeCommit: 'code-commit',
  parent: 'parent',
  interfaceFrom: 'interface-from',
  family: 'family',
  base: 'base',
  baseRelation: 'base-relation',
  allowPickle: 'allow-pickle',
  dryRun: 'dry-run',
  commitCard: 'commit-card',
} as const;

/**
 * Register every credential with the runner before anything can print one: the runner then replaces
 * it with *** in all later log lines. Done first thing, and this action never prints them itself.
 */
function maskCredentials(): void {
  for (const name of ['AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) {
    const v = process.env[name];
    if (v) core.setSecret(v);
  }
  for (const url of [stringInput(INPUT.store), process.env.MODEL_GITOPS_STORE ?? '']) {
    for (const secret of urlCredentials(url)) core.setSecret(secret);
  }
}

async function run(): Promise<void> {
  maskCredentials();
  const path = requiredInput(INPUT.path);
  const model = requiredInput(INPUT.model);
  const version = requiredInput(INPUT.version);
  const repo = stringInput(INPUT.repo, '.');
  const storeUrl = resolveStoreUrl(repo, optionalInput(INPUT.store));
  const dryRun = booleanInput(INPUT.dryRun, false);
  const commitCard = booleanInput(INPUT.commitCard, false);
  let codeRepository = optionalInput(INPUT.codeRepo);
  let codeCommit = optionalInput(INPUT.codeCommit);
  if (!codeRepository && process.env.GITHUB_REPOSITORY) {
    codeRepository = process.env.GITHUB_REPOSITORY;
    core.info(
      `code-repo not set: a new card records GITHUB_REPOSITORY (${codeRepository}) as the training code; set code-repo and code-commit if the training code lives elsewhere`,
    );
  }
  if (!codeCommit && process.env.GITHUB_SHA) {
    codeCommit = process.env.GITHUB_SHA;
    core.info(`code-commit not set: a new card records GITHUB_SHA (${codeCommit})`);
  }
  const summary = optionalInput(INPUT.summary);
  const parent = optionalInput(INPUT.parent);
  const interfaceFrom = optionalInput(INPUT.interfaceFrom);
  const family = optionalInput(INPUT.family);
  const base = optionalInput(INPUT.base);
  const relation = optionalInput(INPUT.baseRelation);
  const baseRelation = relation ? parseBaseRelation(relation, 'input base-relation') : undefined;
  const allowPickle = booleanInput(INPUT.allowPickle, false);
  const card = {
    ...(base ? { base } : {}),
    ...(baseRelation ? { baseRelation } : {}),
    ...(allowPickle ? { allowPickle } : {}),
    ...(summary ? { summary } : {}),
    ...(codeRepository ? { codeRepository } : {}),
    ...(codeCommit ? { codeCommit } : {}),
    ...(parent ? { parent } : {}),
    ...(interfaceFrom ? { interfaceFrom } : {}),
    ...(family ? { family } : {}),
  };
  core.info(`${dryRun ? 'dry run: ' : ''}pushing ${path} as ${model} ${version} to ${redactUrl(storeUrl)}`);
  const r = await pushModel({ dir: path, model, version, repo, storeUrl, dryRun, ...card });
  for (const n of r.notes) core.notice(n);
  annotate(r.diagnostics, { prefix: workspacePrefix(repo) });

  let commit: string | undefined;
  if (commitCard && r.card.written) {
    // A fresh runner has no git identity; commit as the Actions bot unless one is configured.
    const configured = runGit(repo, ['config', '--get', 'user.email']).stdout.toString('utf8').trim() !== '';
    const identity = configured
      ? []
      : [
          '-c',
          'user.name=github-actions[bot]',
          '-c',
          'user.email=41898282+github-actions[bot]@users.noreply.github.com',
        ];
    git(repo, ['add', '--', r.card.path]);
    git(repo, [
      ...identity,
      'commit',
      '-m',
      `${model} ${version}: ${r.card.status} card from upload-weights`,
      '-m',
      `Artifacts recorded by model-gitops push (${r.totals.files} files, ${formatBytes(r.totals.bytes)}).`,
      '--',
      r.card.path,
    ]);
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
    core.setFailed(
      `${r.card.path} would leave the registry invalid (${r.errors} error(s), see the annotations); the card was not written. Uploaded blobs stay in the store, which is harmless: they are content-addressed.`,
    );
  }
}

async function writeSummary(r: PushModelResult, commit: string | undefined): Promise<void> {
  const t = r.totals;
  core.summary.addHeading(`Weights: ${escapeHtml(r.model)} ${escapeHtml(r.version)}${r.dryRun ? ' (dry run)' : ''}`, 2);
  core.summary.addTable([
    [
      { data: 'Files', header: true },
      { data: 'Bytes', header: true },
      { data: r.dryRun ? 'Would send' : 'Bytes sent', header: true },
      { data: 'Bytes deduplicated', header: true },
      { data: 'Throughput', header: true },
    ],
    [
      String(t.files),
      formatBytes(t.bytes),
      formatBytes(r.dryRun ? t.toSendBytes : t.sentBytes),
      formatBytes(t.deduplicatedBytes),
      t.sentBytes > 0 ? formatRate(r.throughputBytesPerSecond) : '-',
    ],
  ]);
  core.summary.addTable([
    [
      { data: 'File', header: true },
      { data: 'Size', header: true },
      { data: 'sha256', header: true },
      { data: 'Sent', header: true },
    ],
    ...r.files.map((f) => [
      escapeHtml(f.path),
      formatBytes(f.size),
      `<code>${f.sha256.slice(0, 16)}…</code>`,
      f.deduplicated ? 'deduplicated' : r.dryRun ? 'would send' : formatBytes(f.sent),
    ]),
  ]);
  const verdict =
    !r.valid && !r.card.draft
      ? `not written: it would leave the registry invalid (${r.errors} error(s))`
      : r.dryRun
        ? `would be ${r.card.status}`
        : r.card.status;
  core.summary.addRaw(
    `<p>Card <code>${escapeHtml(r.card.path)}</code>: ${escapeHtml(verdict)}${commit ? `, committed ${commit.slice(0, 12)}` : ''}. Store: <code>${escapeHtml(r.store)}</code>.</p>`,
    true,
  );
  await core.summary.write();
}

void runAction(run);
