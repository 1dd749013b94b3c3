// `model-gitops gc`: reclaim store objects nothing retained references (dry run unless --delete).
import { join, resolve } from 'node:path';
import { resolveStoreUrl, STORE_ENV } from '../authoring/push-model.ts';
import { EXIT } from '../lib/exit-codes.ts';
import { formatBytes } from '../lib/format.ts';
import { GC_DEFAULTS, collectGarbage } from '../lifecycle/gc.ts';
import { openStore } from '../store/index.ts';
import { type Command, intOption, numberOption, parseCommandArgs } from './command.ts';
import { printJson, table } from './output.ts';

const usage =
  'model-gitops gc [--store URL] [--repo DIR] [--ref main] [--keep-manifests N] [--keep-days D] [--grace SECONDS] [--batch N] [--delete] [--json]';

const help = `usage: ${usage}

Mark and sweep. Kept (the marks): every blob and per-tensor index that a version card on --ref references
(archived cards do not count), that an environment on --ref runs (champion, canary, rollback window),
that the current signed manifest or any manifest in the retention window references, and any unfinished
upload. Swept: only unreferenced blobs/ and indexes/ objects older than the grace period. References are
read again before each batch of deletes, and each object is listed again right before its delete, so a
concurrent push or publish keeps what it needs. Manifests, TUF metadata and reports are never deleted;
a key of no known family is reported and left alone.

  --store URL           s3://bucket/prefix, file:///path or a folder (default $${STORE_ENV}, else <repo>/.model-gitops/store)
  --repo DIR            the registry repository (default .)
  --ref REF             the branch whose cards count (default main)
  --keep-manifests N    the newest N published manifests are retention roots (default ${GC_DEFAULTS.keepManifests}, at least 1)
  --keep-days D         manifests published within D days are roots too (default ${GC_DEFAULTS.keepDays})
  --grace SECONDS       nothing younger is deleted (default ${GC_DEFAULTS.graceSeconds}: longer than push → merge → publish)
  --state-dir DIR       a push state folder whose unfinished uploads count as references (default <repo>/.model-gitops)
  --batch N             deletes between two re-reads of the references (default ${GC_DEFAULTS.batch})
  --delete              delete; without it, only report what would be deleted
  --json                the result as JSON`;

export const gcCommand: Command = {
  usage,
  async run(argv) {
    const { values } = parseCommandArgs(
      argv,
      {
        store: { type: 'string' },
        repo: { type: 'string', default: '.' },
        ref: { type: 'string', default: 'main' },
        'keep-manifests': { type: 'string' },
        'keep-days': { type: 'string' },
        grace: { type: 'string' },
        'state-dir': { type: 'string' },
        batch: { type: 'string' },
        delete: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
      },
      usage,
    );
    if (values.help) {
      console.log(help);
      return EXIT.ok;
    }
    const repo = resolve(values.repo);
    const stateDir = values['state-dir'] ?? join(repo, '.model-gitops');
    const store = openStore(resolveStoreUrl(values.repo, values.store), { s3: { stateDir } });
    const progress = !values.json && process.stderr.isTTY;
    const r = await collectGarbage({
      store,
      repo,
      ref: values.ref,
      delete: values.delete,
      stateDir,
      ...opt('keepManifests', intOption('keep-manifests', values['keep-manifests'], { min: 1 })),
      ...opt('keepDays', numberOption('keep-days', values['keep-days'], 0)),
      ...opt('graceSeconds', numberOption('grace', values.grace, 0)),
      ...opt('batch', intOption('batch', values.batch, { min: 1, max: 10_000 })),
      onProgress: (p) => {
        // Progress goes to stderr, so --json stdout stays one object.
        if (p.phase === 'sweep' || (p.phase === 'list' && progress))
          process.stderr.write(`gc: ${p.phase} ${p.done}${p.total !== undefined ? `/${p.total}` : ''}\n`);
      },
    });
    if (values.json) {
      printJson(r);
      return EXIT.ok;
    }
    const verb = r.dryRun ? 'would delete' : 'deleted';
    console.log(
      table([
        ['store', r.store],
        ['ref', `${r.ref.name} (${r.ref.commit.slice(0, 12)})`],
        [
          'retention',
          `newest ${r.retention.keepManifests} manifests or ${r.retention.keepDays} days: sequences ${r.retention.manifests.join(', ') || 'none'}`,
        ],
        ['grace', `${r.retention.graceSeconds} s`],
        ['listed', `${r.listed.blob} blobs, ${r.listed.index} indexes`],
        ['referenced', String(r.referenced)],
        ['too young', String(r.young)],
        [verb, `${r.deleted.length} objects, ${formatBytes(r.reclaimedBytes)}`],
        ...(r.rescued.length ? [['kept (raced)', String(r.rescued.length)]] : []),
      ]),
    );
    for (const d of r.deleted.slice(0, 50)) console.log(`  ${verb}  ${d.key}  ${formatBytes(d.size)}`);
    if (r.deleted.length > 50) console.log(`  … and ${r.deleted.length - 50} more (--json lists them all)`);
    for (const k of r.unknown) console.error(`gc: left alone, not a key this toolkit writes: ${k}`);
    if (r.dryRun && r.deleted.length) console.log('dry run: nothing was deleted; run again with --delete');
    return EXIT.ok;
  },
};

function opt<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}
