// `model-gitops upgrade`: bring the toolkit paths from a newer template release into a repository made
// from the template, leaving its registry alone.
import { RECORD_FILE, TOOLKIT_DIRS, TOOLKIT_FILES, type UpgradeChange, upgradeToolkit } from '../authoring/upgrade.ts';
import { UserError } from '../lib/errors.ts';
import { EXIT } from '../lib/exit-codes.ts';
import { type Command, parseCommandArgs } from './command.ts';
import { trimLines } from './init.ts';
import { dim, green, printJson, red, table, yellow } from './output.ts';

const usage = 'model-gitops upgrade --from DIR_OR_GIT_URL [--ref TAG_OR_BRANCH] [--repo DIR] [--dry-run] [--json]';

const help = `usage: ${usage}

Brings the toolkit from a newer release of the template into this repository (made from the template,
so there is no shared history to merge). The toolkit paths are
  ${TOOLKIT_DIRS.map((d) => `${d}/`).join(' ')}
  ${TOOLKIT_FILES.join(' ')}
Their files are replaced by the release's and toolkit files the release dropped are deleted; models/,
environments/, README.md, CODEOWNERS, .gitignore and everything else are never touched. Files of your
own (in no release) are kept, and so are deletions of files the release did not change; a file you
changed that the release changed too is replaced and marked "review" (yours stays in git history). ${RECORD_FILE} records the release, so the
next upgrade knows what it dropped: commit it with the rest.

  --from DIR_OR_URL  a checkout of the newer template (its tracked files as on disk), an unpacked
                     release folder, or a git URL or repository path (cloned with --depth 1)
  --ref REF          a tag or branch of a git source, e.g. v0.2.0
  --repo DIR         the repository to upgrade (default .); it must have no uncommitted changes in
                     toolkit paths
  --dry-run          list what would change, write nothing
  --json             print the plan as JSON`;

const VERB: Record<UpgradeChange['action'], [string, string]> = {
  add: ['add', 'would add'],
  update: ['update', 'would update'],
  delete: ['delete', 'would delete'],
  keep: ['keep', 'keep'],
};

export const upgradeCommand: Command = {
  usage,
  async run(argv) {
    const { values } = parseCommandArgs(
      argv,
      {
        from: { type: 'string' },
        ref: { type: 'string' },
        repo: { type: 'string', default: '.' },
        'dry-run': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
      },
      usage,
    );
    if (values.help) {
      console.log(help);
      return EXIT.ok;
    }
    if (!values.from) throw new UserError(`--from is required\nusage: ${usage}`);
    const dryRun = values['dry-run'];
    const r = upgradeToolkit({
      repo: values.repo,
      from: values.from,
      ...(values.ref !== undefined ? { ref: values.ref } : {}),
      dryRun,
    });
    const count = (a: UpgradeChange['action']) => r.changes.filter((c) => c.action === a).length;
    const review = r.changes
      .filter((c) => (c.action === 'update' || c.action === 'add') && c.review)
      .map((c) => c.path);
    const next = [
      'npm ci            install what the new package-lock.json says',
      'npm test          type-check, format check and the new toolkit tests',
      `git diff          review the change${review.length ? `; re-apply your own edits to the ${review.length} file(s) marked review` : ''}`,
      `git add -A && git commit -m "toolkit: upgrade to ${r.release.commit ? r.release.commit.slice(0, 12) : (r.release.ref ?? 'the new release')}"`,
    ];
    if (values.json) {
      printJson({
        dryRun,
        release: r.release,
        baseline: r.baseline,
        added: r.changes.filter((c) => c.action === 'add').map((c) => c.path),
        updated: r.changes.filter((c) => c.action === 'update').map((c) => c.path),
        review,
        deleted: r.changes.filter((c) => c.action === 'delete').map((c) => c.path),
        kept: r.changes.flatMap((c) => (c.action === 'keep' ? [{ path: c.path, why: c.why }] : [])),
        unchanged: r.unchanged,
        record: r.record ? RECORD_FILE : null,
        notes: r.notes,
        next: dryRun ? [] : next,
      });
      return EXIT.ok;
    }
    const at = [r.release.ref, r.release.commit?.slice(0, 12)].filter(Boolean).join(', ');
    console.log(`${dryRun ? 'upgrade (dry run)' : 'upgrade'} from ${r.release.from}${at ? ` (${at})` : ''}`);
    console.log(dim(`previous release: ${r.baseline.label}`));
    const verb = (a: UpgradeChange['action']) => VERB[a][dryRun ? 1 : 0];
    const paint = (a: UpgradeChange['action'], s: string) => (a === 'add' ? green(s) : a === 'delete' ? red(s) : s);
    const rows = r.changes.map((c) => [
      paint(c.action, verb(c.action)),
      c.path,
      (c.action === 'update' || c.action === 'add') && c.review
        ? yellow(`review: ${c.review}`)
        : c.action === 'keep'
          ? dim(c.why)
          : '',
    ]);
    if (r.record) rows.push([dryRun ? 'would write' : 'write', RECORD_FILE, dim('the release and its file list')]);
    if (rows.length) console.log(trimLines(table(rows)));
    for (const n of r.notes) console.log(yellow(`note: ${n}`));
    const changed = count('add') + count('update') + count('delete');
    console.log(
      `${count('add')} added, ${count('update')} updated, ${count('delete')} deleted, ${count('keep')} kept, ${r.unchanged} unchanged` +
        (dryRun ? ' (dry run: nothing written)' : ''),
    );
    if (dryRun || (changed === 0 && !r.record)) {
      if (changed === 0 && !r.record) console.log("the toolkit is already the release's");
      return EXIT.ok;
    }
    console.log('next:');
    for (const line of next) console.log(`  ${line}`);
    console.log(
      dim("  (the release's README.md and .gitignore are not copied: compare them with yours for new sections)"),
    );
    return EXIT.ok;
  },
};
