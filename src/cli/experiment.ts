// `model-gitops experiment report`: champion vs challenger on the gateway's feedback, decided by the
// always-valid sequential test with model.yaml's experiment (hypothesis, metric, alpha, minSamples).
// --comment N puts the verdict on pull request N (GITHUB_API_URL, GITHUB_REPOSITORY, GITHUB_TOKEN).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../lib/errors.ts';
import { git, isGitRepo } from '../lib/git.ts';
import { applyPromotionToText, planPromotion } from '../observe/promote.ts';
import { formatDiagnostic } from '../registry/diagnostics.ts';
import { OverlaySource, WorkingTreeSource } from '../registry/source.ts';
import { validateRegistry } from '../registry/validate.ts';
import { DEFAULT_MAX_FILE_BYTES } from '../registry/yaml-file.ts';
import { EXIT } from '../lib/exit-codes.ts';
import { experimentComment, experimentReport } from '../observe/experiment.ts';
import { type Command, intOption, parseCommandArgs, subcommands } from './command.ts';
import { githubFromEnv, upsertComment } from './github-rest.ts';
import { loadObservations, loadRegistry, modelEntry } from './observe-common.ts';
import { printJson } from './output.ts';

const reportUsage =
  'model-gitops experiment report --model M (--gateway URL | --observations FILE) [--repo DIR] [--champion V] [--challenger V] [--comment PR] [--json]';

async function report(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    argv,
    {
      model: { type: 'string' },
      gateway: { type: 'string' },
      observations: { type: 'string' },
      repo: { type: 'string', default: '.' },
      champion: { type: 'string' },
      challenger: { type: 'string' },
      comment: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    reportUsage,
  );
  if (values.help) {
    console.log(`usage: ${reportUsage}`);
    return EXIT.ok;
  }
  if (!values.model) throw new UserError(`--model is required\nusage: ${reportUsage}`);
  const pr = intOption('comment', values.comment, { min: 1 });
  const snapshot = await loadObservations(values, reportUsage);
  const { card } = modelEntry(loadRegistry(values.repo), values.model);
  const r = experimentReport([snapshot], values.model, card.experiment, {
    ...(values.champion ? { champion: values.champion } : {}),
    ...(values.challenger ? { challenger: values.challenger } : {}),
  });
  let comment: { id: number; updated: boolean } | undefined;
  if (pr !== undefined)
    comment = await upsertComment(
      githubFromEnv(),
      pr,
      `<!-- model-gitops:experiment:${r.model} -->`,
      experimentComment(r),
    );
  if (values.json) printJson({ ...r, ...(comment ? { comment } : {}) });
  else {
    console.log(experimentComment(r));
    if (comment) console.error(`${comment.updated ? 'updated' : 'posted'} the verdict on pull request #${pr}`);
  }
  return EXIT.ok;
}

const promoteUsage = 'model-gitops experiment promote MODEL --environment ENV [--repo DIR] [--branch NAME] [--json]';

/** The canary becomes the champion (after a `challenger` verdict), as a git change for a pull request. */
async function promote(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    {
      environment: { type: 'string', short: 'e' },
      repo: { type: 'string', default: '.' },
      branch: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    promoteUsage,
    true,
  );
  if (values.help) {
    console.log(`usage: ${promoteUsage}`);
    return EXIT.ok;
  }
  const [model, ...extra] = positionals;
  if (!model || extra.length) throw new UserError(`expected exactly one model name\nusage: ${promoteUsage}`);
  if (!values.environment) throw new UserError(`--environment is required\nusage: ${promoteUsage}`);
  const repo = values.repo;
  const source = new WorkingTreeSource(repo, { maxFileBytes: DEFAULT_MAX_FILE_BYTES });
  const plan = planPromotion(loadRegistry(repo), model, values.environment);
  const text = applyPromotionToText(readFileSync(join(repo, plan.file), 'utf8'), plan);
  const after = validateRegistry(new OverlaySource(source, new Map([[plan.file, Buffer.from(text)]])));
  if (after.errors > 0) {
    for (const d of after.diagnostics.filter((x) => x.severity === 'error')) console.error(formatDiagnostic(d));
    throw new UserError(
      `promoting ${model} ${plan.to} in ${plan.environment} would leave the registry invalid; nothing was changed`,
      {
        exitCode: EXIT.violations,
      },
    );
  }
  if (values.branch && !isGitRepo(repo))
    throw new UserError(`${repo} is not a git repository; drop --branch to only edit the file`);
  if (values.branch) git(repo, ['switch', '-c', values.branch]);
  writeFileSync(join(repo, plan.file), text);
  const message = `promote: ${model} ${plan.from} -> ${plan.to} in ${plan.environment} (A/B experiment)`;
  let commit: string | undefined;
  if (values.branch) {
    git(repo, ['add', '--', plan.file]);
    git(repo, [
      'commit',
      '-m',
      message,
      '-m',
      'Prepared by `model-gitops experiment promote` after a challenger verdict.',
    ]);
    commit = git(repo, ['rev-parse', 'HEAD']).trim();
  }
  if (values.json) printJson({ ...plan, message, commit: commit ?? null, branch: values.branch ?? null });
  else
    console.log(
      `${message}\n  ${commit ? `committed ${commit.slice(0, 12)} on branch ${values.branch}` : `edited ${plan.file}`}`,
    );
  return EXIT.ok;
}

export const experimentCommand: Command = subcommands('experiment', `${reportUsage}\n       ${promoteUsage}`, {
  report,
  promote,
});
