// GitHub Action adapter for the benchmark gate: inputs -> src/benchmark/run.ts -> outputs, job
// summary and one pull-request comment per model, updated in place. Fails the step unless the
// verdict is pass (inconclusive never passes).
import * as core from '@actions/core';
import * as github from '@actions/github';
import { resolve } from 'node:path';
import { UserError, isUserError } from '../../../src/lib/errors.ts';
import { FolderMaterializer } from '../../../src/benchmark/materialize.ts';
import { COMMENT_MARKER, commentKey, renderMarkdown } from '../../../src/benchmark/render.ts';
import { runBenchmark } from '../../../src/benchmark/run.ts';
import { FolderReportSink } from '../../../src/benchmark/store.ts';

function positiveInt(name: string, min: number): number | undefined {
  const raw = core.getInput(name);
  if (raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min) throw new UserError(`input ${name} must be a whole number >= ${min}, got "${raw}"`);
  return n;
}

async function upsertComment(token: string, model: string, body: string): Promise<void> {
  const number = github.context.payload.pull_request?.number ?? (github.context.payload.issue?.pull_request ? github.context.payload.issue.number : undefined);
  if (number === undefined) { core.info('not a pull-request event: no comment'); return; }
  const octokit = github.getOctokit(token);
  const { owner, repo } = github.context.repo;
  const comments = await octokit.paginate(octokit.rest.issues.listComments, { owner, repo, issue_number: number, per_page: 100 });
  // Only a bot's comment is ours to edit: anyone can paste the marker into their own comment.
  const ours = comments.find((c) => c.user?.type === 'Bot' && c.body?.includes(COMMENT_MARKER) && c.body.includes(commentKey(model)));
  if (ours) {
    await octokit.rest.issues.updateComment({ owner, repo, comment_id: ours.id, body });
    core.info(`updated benchmark comment ${ours.id} on #${number}`);
  } else {
    const created = await octokit.rest.issues.createComment({ owner, repo, issue_number: number, body });
    core.info(`created benchmark comment ${created.data.id} on #${number}`);
  }
}

async function run(): Promise<void> {
  const model = core.getInput('model', { required: true });
  const version = core.getInput('version', { required: true });
  const trustedRepo = resolve(core.getInput('repo') || '.');
  const cardsRepo = core.getInput('cards-repo');
  const store = core.getInput('report-store');
  const reportPath = resolve(core.getInput('report-path') || 'benchmark-report.json');
  const runs = positiveInt('runs', 1);
  const warmupRuns = positiveInt('warmup-runs', 0) ?? 1;
  const { serverUrl, runId } = github.context;
  const repository = process.env.GITHUB_REPOSITORY;
  const pr = github.context.payload.pull_request?.number ?? github.context.payload.issue?.number;
  const result = await runBenchmark({
    model, version, champion: core.getInput('champion') || 'production',
    trustedRepo, ...(cardsRepo ? { cardsRepo: resolve(cardsRepo) } : {}),
    materializer: new FolderMaterializer(resolve(core.getInput('weights-root', { required: true }))),
    ...(core.getInput('testbed') ? { testbed: core.getInput('testbed') } : {}),
    ...(runs !== undefined ? { runs } : {}), warmupRuns,
    ...(store ? { sink: new FolderReportSink(resolve(store)) } : {}),
    reportPath,
    source: {
      ...(repository ? { repository } : {}),
      ...(process.env.MODEL_GITOPS_PR_HEAD_SHA ? { commit: process.env.MODEL_GITOPS_PR_HEAD_SHA } : {}),
      ...(typeof pr === 'number' ? { pullRequest: pr } : {}),
      ...(repository && runId ? { runUrl: `${serverUrl}/${repository}/actions/runs/${runId}` } : {}),
    },
    log: (line) => core.info(line),
  });
  const verdict = result.report.decision.verdict;
  core.setOutput('verdict', verdict);
  core.setOutput('report-path', reportPath);
  core.setOutput('report-key', result.key);
  core.setOutput('artifact-digest', result.report.artifactDigest);
  const runUrl = result.report.source?.runUrl;
  await core.summary.addRaw(renderMarkdown(result.report, runUrl ? { reportUrl: runUrl } : {}), true).write();
  if (core.getBooleanInput('comment')) {
    const token = core.getInput('github-token');
    if (!token) core.warning('comment is true but github-token is empty: no pull-request comment');
    else await upsertComment(token, model, renderMarkdown(result.report, { marker: true, ...(runUrl ? { reportUrl: runUrl } : {}) }));
  }
  if (verdict !== 'pass') core.setFailed(`benchmark ${verdict} for ${model}@${version}: ${result.report.decision.reasons[0] ?? ''}`);
}

run().catch((e: unknown) => core.setFailed(isUserError(e) ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e)));
