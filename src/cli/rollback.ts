import { formatDiagnostic } from '../registry/diagnostics.ts';
import { UserError } from '../lib/errors.ts';
import { git, isGitRepo } from '../lib/git.ts';
import { OverlaySource, WorkingTreeSource } from '../registry/source.ts';
import { planRollback, rolledBackText, writeRollback } from '../review/rollback.ts';
import { validateRegistry } from '../registry/validate.ts';
import { DEFAULT_MAX_FILE_BYTES } from '../registry/yaml-file.ts';
import { EXIT } from '../lib/exit-codes.ts';
import { type Command, parseCommandArgs } from './command.ts';
import { printJson } from './output.ts';

const usage =
  'model-gitops rollback <model> --environment ENV [--to VERSION] [--canary] [--repo DIR] [--commit] [--branch NAME] [--json]';

export const rollbackCommand: Command = {
  usage,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(
      argv,
      {
        environment: { type: 'string', short: 'e' },
        to: { type: 'string' },
        canary: { type: 'boolean', default: false },
        repo: { type: 'string', default: '.' },
        commit: { type: 'boolean', default: false },
        branch: { type: 'string' },
        json: { type: 'boolean', default: false },
      },
      usage,
      true,
    );
    if (values.help) {
      console.log(`usage: ${usage}`);
      return EXIT.ok;
    }
    const [model, ...extra] = positionals;
    if (!model || extra.length) throw new UserError(`expected exactly one model name\nusage: ${usage}`);
    if (!values.environment) throw new UserError(`--environment is required\nusage: ${usage}`);
    if (values.to && values.canary)
      throw new UserError('--to and --canary cannot be combined: --canary keeps the champion and drops the canary');
    const repo = values.repo;
    const source = new WorkingTreeSource(repo, { maxFileBytes: DEFAULT_MAX_FILE_BYTES });
    const before = validateRegistry(source);
    if (before.errors > 0) {
      for (const d of before.diagnostics) console.error(formatDiagnostic(d));
      throw new UserError('the registry has errors; fix them before rolling back', { exitCode: EXIT.violations });
    }
    const plan = planRollback(before.registry, model, values.environment, {
      ...(values.to ? { to: values.to } : {}),
      canaryOnly: values.canary,
    });
    if ((values.commit || values.branch) && !isGitRepo(repo))
      throw new UserError(`${repo} is not a git repository; drop --commit/--branch to only edit the file`);
    // Check the edited registry before touching the disk: a rollback that breaks a dependent's range
    // (or anything else) is refused with the reason, and nothing is written.
    const text = rolledBackText(repo, plan);
    const after = validateRegistry(new OverlaySource(source, new Map([[plan.file, Buffer.from(text)]])));
    if (after.errors > 0) {
      for (const d of after.diagnostics) console.error(formatDiagnostic(d));
      throw new UserError(
        `rolling ${plan.model} back to ${plan.to} in ${plan.environment} would leave the registry invalid (${after.errors} error${after.errors === 1 ? '' : 's'} above); nothing was changed`,
        { exitCode: EXIT.violations },
      );
    }
    if (values.branch) git(repo, ['switch', '-c', values.branch]);
    writeRollback(repo, plan, text);
    const message =
      plan.kind === 'canary'
        ? `rollback: drop ${plan.model} canary ${plan.from} in ${plan.environment}`
        : `rollback: ${plan.model} ${plan.from} -> ${plan.to} in ${plan.environment}`;
    let commit: string | undefined;
    if (values.commit || values.branch) {
      git(repo, ['add', '--', plan.file]);
      git(repo, [
        'commit',
        '-m',
        message,
        '-m',
        'Prepared by `model-gitops rollback`; the target comes from the rollback window, so no benchmark is re-run.',
      ]);
      commit = git(repo, ['rev-parse', 'HEAD']).trim();
    }
    if (values.json) printJson({ ...plan, message, commit: commit ?? null, branch: values.branch ?? null });
    else {
      console.log(message);
      if (plan.droppedCanary && plan.kind === 'champion') console.log(`  canary ${plan.droppedCanary} dropped`);
      console.log(
        commit
          ? `  committed ${commit.slice(0, 12)}${values.branch ? ` on branch ${values.branch}` : ''}; open a pull request to make it live`
          : `  edited ${plan.file}; review and commit it`,
      );
    }
    return EXIT.ok;
  },
};
