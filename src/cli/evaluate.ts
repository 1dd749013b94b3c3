// `model-gitops evaluate run`: the continuous-evaluation loop for one environment. For each model's
// champion and canary: golden set (digest-checked) through the recipe's harness, the report stored
// in the store (evaluations/...), compared with the card's metrics and the previous reports, and
// drift checked when observations are given. With --github a significant drop opens or updates one
// issue per model; when model.yaml evaluation.onDrop is rollback, the rollback to prepare is listed
// in the JSON (the workflow prepares it with `model-gitops rollback` and `evaluate open-pr`).
import { readFileSync } from 'node:fs';
import { UserError } from '../lib/errors.ts';
import { EXIT } from '../lib/exit-codes.ts';
import { mergeWindows } from '../observe/counters.ts';
import { checkDrift, type DriftCheck } from '../observe/drift.ts';
import {
  dropIssueBody,
  type EvaluationComparison,
  type EvaluationReport,
  parseEvaluationReport,
} from '../observe/evaluation.ts';
import type { ObservationsSnapshot } from '../observe/observations.ts';
import {
  compareWithHistory,
  evaluateVersion,
  previousEvaluations,
  storeEvaluation,
} from '../observe/run-evaluation.ts';
import { storeUrlOrDefault } from '../store/default.ts';
import { openStore } from '../store/open.ts';
import { type Command, parseCommandArgs, subcommands } from './command.ts';
import { githubFromEnv, openPullRequest, upsertIssue } from './github-rest.ts';
import { loadObservations, loadRegistry } from './observe-common.ts';
import { printJson, table } from './output.ts';

const runUsage =
  'model-gitops evaluate run --environment ENV [--model M] [--repo DIR] [--store URL] [--gateway URL | --observations FILE] [--quick] [--github] [--json]';
const planUsage = 'model-gitops evaluate plan --environment ENV [--model M] [--recipe-runner] [--repo DIR]';
const issueUsage = 'model-gitops evaluate issue --from EVALUATION-RUN.json [--json]';
const prUsage = 'model-gitops evaluate open-pr --head BRANCH --title TEXT [--body-file FILE] [--base main] [--json]';

export const ISSUE_LABEL = 'model-gitops-evaluation';

interface Row {
  model: string;
  version: string;
  role: 'champion' | 'canary';
  key: string;
  report: EvaluationReport;
  comparison: EvaluationComparison;
  drift?: DriftCheck;
  /** The earlier reports of this version in this environment (the chart's points). */
  history: EvaluationReport[];
}

interface Rollback {
  model: string;
  environment: string;
  canaryOnly: boolean;
  version: string;
}

/** One issue per model with a flagged version: opened, or updated when the token's identity opened it before. */
async function fileIssues(environment: string, flagged: Row[], rollbacks: Rollback[]) {
  const gh = githubFromEnv();
  const issues: { model: string; number: number; updated: boolean }[] = [];
  for (const model of new Set(flagged.map((r) => r.model))) {
    const bodies = flagged
      .filter((r) => r.model === model)
      .map((r) => {
        const drift = r.drift
          ? [
              '',
              `Drift (${r.drift.requests} live requests): **${r.drift.level}**`,
              ...r.drift.findings.map((f) => `- ${f.feature}: ${f.metric} ${f.value.toFixed(4)} (${f.level})`),
            ]
          : [];
        return dropIssueBody(r.report, r.comparison, r.history, drift);
      });
    const tail = rollbacks.some((x) => x.model === model)
      ? ['', 'model.yaml evaluation.onDrop is rollback: a rollback pull request is being prepared.']
      : [];
    const issue = await upsertIssue(gh, {
      marker: `<!-- model-gitops:evaluation:${model}:${environment} -->`,
      title: `Evaluation drop: ${model} in ${environment}`,
      body: [...bodies, ...tail].join('\n\n'),
      labels: [ISSUE_LABEL],
    });
    issues.push({ model, ...issue });
  }
  return issues;
}

async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    argv,
    {
      environment: { type: 'string', short: 'e' },
      model: { type: 'string' },
      repo: { type: 'string', default: '.' },
      store: { type: 'string' },
      gateway: { type: 'string' },
      observations: { type: 'string' },
      quick: { type: 'boolean', default: false },
      github: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
    runUsage,
  );
  if (values.help) {
    console.log(`usage: ${runUsage}`);
    return EXIT.ok;
  }
  if (!values.environment) throw new UserError(`--environment is required\nusage: ${runUsage}`);
  const registry = loadRegistry(values.repo);
  const env = registry.environments.get(values.environment);
  if (!env) throw new UserError(`no environment "${values.environment}" (environments/${values.environment}.yaml)`);
  const snapshot: ObservationsSnapshot | undefined =
    values.gateway || values.observations ? await loadObservations(values, runUsage) : undefined;
  const store = openStore(storeUrlOrDefault(values.store, values.repo));
  const rows: Row[] = [];
  const skipped: string[] = [];
  for (const [model, d] of env.deployments) {
    if (values.model && model !== values.model) continue;
    const entry = registry.models.get(model);
    if (!entry?.card?.benchmark) {
      skipped.push(`${model}: no benchmark recipe`);
      continue;
    }
    const targets: [string, 'champion' | 'canary'][] = [[d.version, 'champion']];
    if (d.canary) targets.push([d.canary.version, 'canary']);
    for (const [version, role] of targets) {
      const card = entry.versions.get(version)?.card;
      if (!card) throw new UserError(`environments/${values.environment}.yaml: ${model}@${version} has no valid card`);
      console.error(`evaluating ${model}@${version} (${role} in ${values.environment})`);
      const previous = await previousEvaluations(store, model, version, values.environment);
      const report = await evaluateVersion({
        repo: values.repo,
        store,
        model: entry.card,
        version: card,
        environment: values.environment,
        role,
        ...(values.quick ? { harnessEnv: { MODEL_GITOPS_BENCH_ITERATIONS: '1', MODEL_GITOPS_BENCH_WARMUP: '0' } } : {}),
      });
      const key = await storeEvaluation(store, report);
      const comparison = compareWithHistory(report, card, previous, entry.card.evaluation?.alpha);
      let drift: DriftCheck | undefined;
      if (snapshot) {
        const windows = snapshot.versions
          .filter((v) => v.model === model && v.version === version)
          .flatMap((v) => v.windows);
        drift = checkDrift(mergeWindows(windows), report.reference, entry.card.drift);
      }
      rows.push({ model, version, role, key, report, comparison, ...(drift ? { drift } : {}), history: previous });
    }
  }
  const flagged = rows.filter((r) => r.comparison.drop || r.drift?.level === 'fail');
  const rollbacks = flagged
    .filter((r) => registry.models.get(r.model)?.card?.evaluation?.onDrop === 'rollback')
    .map((r) => ({
      model: r.model,
      environment: values.environment!,
      canaryOnly: r.role === 'canary',
      version: r.version,
    }));
  const issues = values.github && flagged.length ? await fileIssues(values.environment, flagged, rollbacks) : [];
  if (values.json)
    printJson({
      environment: values.environment,
      results: rows.map((r) => ({ ...r, accuracy: r.report.accuracy, examples: r.report.goldenSet.examples })),
      skipped,
      rollbacks,
      issues,
    });
  else {
    console.log(
      table([
        ['model', 'version', 'role', 'accuracy', 'vs card', 'vs previous', 'drift'],
        ...rows.map((r) => {
          const vs = (what: string) => {
            const x = r.comparison.rows.find((c) =>
              what === 'card' ? c.against === 'model card' : c.against !== 'model card',
            );
            return x ? `${(100 * x.difference).toFixed(2)} pt${x.significant ? ' DROP' : ''}` : '-';
          };
          return [
            r.model,
            r.version,
            r.role,
            (100 * r.report.accuracy).toFixed(2) + '%',
            vs('card'),
            vs('previous'),
            r.drift?.level ?? '-',
          ];
        }),
      ]),
    );
    for (const s of skipped) console.log(`skipped ${s}`);
    for (const i of issues) console.log(`${i.updated ? 'updated' : 'opened'} issue #${i.number} for ${i.model}`);
  }
  return flagged.length ? EXIT.violations : EXIT.ok;
}

/**
 * Which runner the evaluation job needs, as the JSON `runs-on` takes: ubuntu-latest (the CPU harness),
 * or with --recipe-runner the labels of the recipes of the models evaluated (they must agree: evaluate
 * models with different runners one at a time).
 */
async function plan(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    argv,
    {
      environment: { type: 'string', short: 'e' },
      model: { type: 'string' },
      'recipe-runner': { type: 'boolean', default: false },
      repo: { type: 'string', default: '.' },
    },
    planUsage,
  );
  if (values.help) {
    console.log(`usage: ${planUsage}`);
    return EXIT.ok;
  }
  if (!values.environment) throw new UserError(`--environment is required\nusage: ${planUsage}`);
  const registry = loadRegistry(values.repo);
  const env = registry.environments.get(values.environment);
  if (!env) throw new UserError(`no environment "${values.environment}" (environments/${values.environment}.yaml)`);
  const models = [...env.deployments.keys()].filter((m) => !values.model || m === values.model);
  if (values.model && models.length === 0)
    throw new UserError(`${values.model} is not deployed in ${values.environment}`);
  let runner: string | string[] = 'ubuntu-latest';
  if (values['recipe-runner']) {
    const labels = new Map<string, string[]>();
    for (const m of models) {
      const r = registry.models.get(m)?.card?.benchmark?.runner;
      if (r) labels.set(JSON.stringify(r), [...(labels.get(JSON.stringify(r)) ?? []), m]);
    }
    if (labels.size > 1)
      throw new UserError(
        `the recipes name different runners (${[...labels].map(([l, ms]) => `${ms.join(', ')}: ${l}`).join('; ')}); evaluate one model at a time with --model`,
      );
    const only = [...labels.keys()][0];
    if (only) runner = JSON.parse(only) as string[];
  }
  console.log(JSON.stringify(runner));
  return EXIT.ok;
}

/** Files the issues of an earlier `evaluate run --json` (a job with issue permissions, apart from the harness). */
async function issue(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    argv,
    { from: { type: 'string' }, json: { type: 'boolean', default: false } },
    issueUsage,
  );
  if (values.help) {
    console.log(`usage: ${issueUsage}`);
    return EXIT.ok;
  }
  if (!values.from) throw new UserError(`--from is required\nusage: ${issueUsage}`);
  let data: any;
  try {
    data = JSON.parse(readFileSync(values.from, 'utf8'));
  } catch (e) {
    throw new UserError(`--from ${values.from}: ${(e as Error).message}; expected the output of evaluate run --json`);
  }
  if (typeof data?.environment !== 'string' || !Array.isArray(data.results) || !Array.isArray(data.rollbacks))
    throw new UserError(`${values.from}: not the output of evaluate run --json (environment, results, rollbacks)`);
  const rows: Row[] = data.results.map((r: any, i: number) => {
    const at = `${values.from}: results[${i}]`;
    const report = parseEvaluationReport(JSON.stringify(r?.report), `${at}.report`);
    if (!Array.isArray(r.comparison?.rows) || typeof r.comparison.drop !== 'boolean')
      throw new UserError(`${at}.comparison is invalid`);
    const history = (Array.isArray(r.history) ? r.history : []).map((h: unknown, j: number) =>
      parseEvaluationReport(JSON.stringify(h), `${at}.history[${j}]`),
    );
    return { ...r, report, history } as Row;
  });
  const flagged = rows.filter((r) => r.comparison.drop || r.drift?.level === 'fail');
  const issues = flagged.length ? await fileIssues(data.environment, flagged, data.rollbacks) : [];
  if (values.json) printJson({ issues, rollbacks: data.rollbacks });
  else for (const i of issues) console.log(`${i.updated ? 'updated' : 'opened'} issue #${i.number} for ${i.model}`);
  return EXIT.ok;
}

async function openPr(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    argv,
    {
      head: { type: 'string' },
      base: { type: 'string', default: 'main' },
      title: { type: 'string' },
      'body-file': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    prUsage,
  );
  if (values.help) {
    console.log(`usage: ${prUsage}`);
    return EXIT.ok;
  }
  if (!values.head || !values.title) throw new UserError(`--head and --title are required\nusage: ${prUsage}`);
  const body = values['body-file'] ? readFileSync(values['body-file'], 'utf8') : '';
  const pr = await openPullRequest(githubFromEnv(), {
    head: values.head,
    base: values.base,
    title: values.title,
    body,
  });
  if (values.json) printJson(pr);
  else console.log(`${pr.existed ? 'pull request already open' : 'opened pull request'} #${pr.number}`);
  return EXIT.ok;
}

export const evaluateCommand: Command = subcommands(
  'evaluate',
  [planUsage, runUsage, issueUsage, prUsage].join('\n       '),
  { plan, run, issue, 'open-pr': openPr },
);
