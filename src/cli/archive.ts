// `model-gitops archive MODEL@VERSION`: out of every environment and rollback window, card marked archived.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../lib/errors.ts';
import { EXIT } from '../lib/exit-codes.ts';
import { git, isGitRepo } from '../lib/git.ts';
import { planArchive } from '../lifecycle/archive.ts';
import { formatDiagnostic } from '../registry/diagnostics.ts';
import { OverlaySource, WorkingTreeSource } from '../registry/source.ts';
import { validateRegistry } from '../registry/validate.ts';
import { DEFAULT_MAX_FILE_BYTES } from '../registry/yaml-file.ts';
import { type Command, parseCommandArgs } from './command.ts';
import { printJson } from './output.ts';

const usage = 'model-gitops archive MODEL@VERSION [--reason TEXT] [--on YYYY-MM-DD] [--repo DIR] [--commit] [--json]';

export const archiveCommand: Command = {
  usage,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(
      argv,
      {
        reason: { type: 'string' },
        on: { type: 'string' },
        repo: { type: 'string', default: '.' },
        commit: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
      },
      usage,
      true,
    );
    if (values.help) {
      console.log(
        `usage: ${usage}\n\nDrops MODEL@VERSION from every environment's canary and rollback window and writes\n` +
          'archived: {on, reason} into its card (the card stays in git). A version some environment still serves as\n' +
          'champion is refused. After the change is merged, `model-gitops gc` may reclaim its bytes.',
      );
      return EXIT.ok;
    }
    const [target, ...extra] = positionals;
    if (!target || extra.length) throw new UserError(`expected exactly one MODEL@VERSION\nusage: ${usage}`);
    const on = values.on ?? new Date().toISOString().slice(0, 10);
    if (!/^\d{4}-\d{2}-\d{2}$/.test(on)) throw new UserError(`--on must be a date written YYYY-MM-DD, got "${on}"`);
    const repo = values.repo;
    const source = new WorkingTreeSource(repo, { maxFileBytes: DEFAULT_MAX_FILE_BYTES });
    const before = validateRegistry(source);
    if (before.errors > 0) {
      for (const d of before.diagnostics) console.error(formatDiagnostic(d));
      throw new UserError('the registry has errors; fix them before archiving', { exitCode: EXIT.violations });
    }
    const plan = planArchive(repo, before.registry, target, {
      on,
      ...(values.reason ? { reason: values.reason } : {}),
    });
    const edited = new Map([...plan.edits].map(([f, t]) => [f, Buffer.from(t)]));
    const after = validateRegistry(new OverlaySource(source, edited));
    if (after.errors > 0) {
      for (const d of after.diagnostics.filter((x) => x.severity === 'error')) console.error(formatDiagnostic(d));
      throw new UserError(`archiving ${target} would leave the registry invalid; nothing was changed`, {
        exitCode: EXIT.violations,
      });
    }
    if (values.commit && !isGitRepo(repo)) throw new UserError(`${repo} is not a git repository; drop --commit`);
    for (const [file, text] of plan.edits) writeFileSync(join(repo, file), text);
    const message = `archive: ${plan.model}@${plan.version}${plan.reason ? ` (${plan.reason})` : ''}`;
    let commit: string | null = null;
    if (values.commit) {
      git(repo, ['add', '--', ...plan.edits.keys()]);
      git(repo, ['commit', '-q', '-m', message, '-m', plan.changes.join('\n')]);
      commit = git(repo, ['rev-parse', 'HEAD']).trim();
    }
    if (values.json)
      printJson({
        model: plan.model,
        version: plan.version,
        on,
        reason: plan.reason ?? null,
        changes: plan.changes,
        files: [...plan.edits.keys()],
        message,
        commit,
      });
    else {
      console.log(message);
      for (const c of plan.changes) console.log(`  ${c}`);
      console.log(
        commit
          ? `  committed ${commit.slice(0, 12)}; open a pull request to make it live`
          : '  review and commit the edited files',
      );
    }
    return EXIT.ok;
  },
};
