// GitHub Action adapter for the benchmark gate: inputs -> src/benchmark/run.ts -> outputs, job
// summary and one pull-request comment per model, updated in place. Fails the step unless the
// verdict is pass (inconclusive never passes).
import * as core from '@actions/core';
import * as github from '@actions/github';
import { resolve } from 'node:path';
import { FolderMaterializer } from '../../../src/benchmark/materialize.ts';
import { COMMENT_MARKER, commentKey, renderMarkdown } from '../../../src/benchmark/render.ts';
import { upsertOwnComment } from '../../shared/comments.ts';
import { runBenchmark } from '../../../src/benchmark/run.ts';
import { FolderReportSink } from '../../../src/benchmark/store.ts';
import { booleanInput, intInput, optionalInput, requiredInput, stringInput } from '../../shared/inputs.ts';
import { runAction } from '../../shared/run.ts';

/** The inputs of action.yml. */
const INPUT = {
  model: 'model',
  version: 'version',
  champion: 'champion',
  testbed: 'testbed',
  repo: 'repo',
  cardsRepo: 'cards-repo',
  weightsRoot: 'weights-root',
  reportStore: 'report-store',
  reportPath: 'report-path',
  runs: 'runs',
  warmupRuns: 'warmup-runs',
  githubToken: 'github-token',
  comment: 'comment',
} as const;

async function upsertComment(token: string, model: string, body: string): Promise<void> {
  const number =
    github.context.payload.pull_request?.number ??
    (github.context.payload.issue?.pull_request ? github.context.payload.issue.number : undefined);
  if (number === undefined) {
    core.info('not a pull-request event: no comment');
    return;
  }
  const octokit = github.getOctokit(token);
  // Only a comment this token's identity wrote is edited: anyone can paste the marker into their own.
  const target = { ...github.context.repo, issue: number };
  const { id, updated } = await upsertOwnComment(octokit, target, COMMENT_MARKER, body, commentKey(model));
  core.info(`${updated ? 'updated' : 'created'} benchmark comment ${id} on #${number}`);
}

async function run(): Promise<void> {
  const model = requiredInput(INPUT.model);
  const version = requiredInput(INPUT.version);
  const trustedRepo = resolve(stringInput(INPUT.repo, '.'));
  const cardsRepo = optionalInput(INPUT.cardsRepo);
  const store = optionalInput(INPUT.reportStore);
  const testbed = optionalInput(INPUT.testbed);
  const reportPath = resolve(stringInput(INPUT.reportPath, 'benchmark-report.json'));
  const runs = intInput(INPUT.runs, { min: 1 });
  const warmupRuns = intInput(INPUT.warmupRuns, { min: 0, fallback: 1 });
  const weightsRoot = resolve(requiredInput(INPUT.weightsRoot));
  const comment = booleanInput(INPUT.comment, true);
  const { serverUrl, runId } = github.context;
  const repository = process.env.GITHUB_REPOSITORY;
  const pr = github.context.payload.pull_request?.number ?? github.context.payload.issue?.number;
  const result = await runBenchmark({
    model,
    version,
    champion: stringInput(INPUT.champion, 'production'),
    trustedRepo,
    ...(cardsRepo ? { cardsRepo: resolve(cardsRepo) } : {}),
    materializer: new FolderMaterializer(weightsRoot),
    ...(testbed ? { testbed } : {}),
    ...(runs !== undefined ? { runs } : {}),
    warmupRuns,
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
  if (comment) {
    const token = stringInput(INPUT.githubToken);
    if (!token) core.warning('comment is true but github-token is empty: no pull-request comment');
    else
      await upsertComment(
        token,
        model,
        renderMarkdown(result.report, { marker: true, ...(runUrl ? { reportUrl: runUrl } : {}) }),
      );
  }
  if (verdict !== 'pass')
    core.setFailed(`benchmark ${verdict} for ${model}@${version}: ${result.report.decision.reasons[0] ?? ''}`);
}

void runAction(run);
