// `model-gitops push`: upload a model folder to the store and write (or update) its version card.
import { formatDiagnostic, printable } from '../registry/diagnostics.ts';
import { UserError } from '../lib/errors.ts';
import { pushModel, resolveStoreUrl, STORE_ENV } from '../authoring/push-model.ts';
import type { ModelFile, PushModelResult } from '../authoring/push-model.ts';
import type { PushProgress } from '../store/index.ts';
import { EXIT } from '../lib/exit-codes.ts';
import { type Command, parseCommandArgs } from './command.ts';
import { dim, green, printJson, red, table, yellow } from './output.ts';
import { formatBytes, formatRate } from '../lib/format.ts';
import { ProgressLine } from './progress.ts';
import { parseBaseRelation, RELATIONS } from '../authoring/intake/base.ts';
import type { BaseRelation } from '../registry/types.ts';

const usage =
  'model-gitops push <dir> --model M --version V [--store URL] [--repo DIR] [--dry-run] [--json] ' +
  '[--summary TEXT] [--code-repo OWNER/NAME] [--code-commit SHA] [--code-dir DIR] [--parent VERSION] [--interface-from VERSION] [--family NAME] [--draft] ' +
  '[--base MODEL@RANGE] [--base-relation adapter|merge|quantized|finetune] [--allow-pickle] [--from-hf-cache]';

const help = `usage: ${usage}

Uploads every file of <dir> to the store under its sha256 (files already there are not sent again),
then writes models/M/versions/V.yaml and validates the registry with it. The card is written only if
the registry stays valid; otherwise the problems are printed and nothing is written (blobs already
uploaded stay in the store, which is harmless: they are content-addressed).

  --store URL            s3://bucket/prefix, file:///path or a folder. Default: $${STORE_ENV}, else the
                         local folder store <repo>/.model-gitops/store
  --repo DIR             the registry repository (default .)
  --dry-run              hash and look up only: show what would be sent and the card, send and write nothing
  --json                 one JSON object on stdout at the end (no progress bar)

A new card needs what only a person knows (an existing card keeps all of it; only its artifacts and
architecture format/parameters/dtype are updated):
  --summary TEXT         what changed and why (summary)
  --code-repo OWNER/NAME training code repository (lineage.code.repository)
  --code-commit SHA      its full commit id (lineage.code.commit)
  --code-dir DIR         a checkout of the training code: its HEAD and GitHub remote are the defaults of the two above
  --parent VERSION       the version these weights were trained from (lineage.parent; VERSION or MODEL@VERSION);
                         its interface is copied unless --interface-from says otherwise
  --interface-from VERSION  copy interface (inputs, outputs, tokenizer) from that card
  --family NAME          architecture.family when the folder has no config.json with a model_type
  --draft                write the new card even with fields missing, as TODO placeholders that fail validation
  --base MODEL@RANGE     the model this one is derived from (base: {model, range, relation}); a PEFT adapter
                         whose base_model_name_or_path is the lineage.source.repo of a card in models/ gets it
                         without the flag
  --base-relation R      adapter | merge | quantized | finetune (default: adapter for a PEFT folder, else the
                         README's base_model_relation, else finetune)

What is read from the folder (nothing to type): safetensors headers (a sharded checkpoint must be complete:
every shard its index names, every tensor listed once), GGUF headers, config.json, README.md front matter
(license, language, pipeline_tag, base_model), adapter_config.json, Trainer output (trainer_state.json,
all_results.json, eval_results.json: metrics, hyperparameters, duration; training_args.bin is never read),
DVC entries (*.dvc, dvc.lock, here and in --code-dir: lineage.datasets), tokenizer_config.json and the chat
template (their digests go in the interface).
Not pushed: .git/ .cache/ .gitattributes __pycache__/ .DS_Store .dvc/ training_args.bin, and what the
folder's .modelignore lists (gitignore subset: # comments, !negation, trailing / for folders, leading or
inner / anchors, * ? **; no [classes] or \\ escapes).
Refused: git-LFS pointers (run git lfs pull), pickle-based files (.bin .pt .pth .ckpt .pkl: loading them
runs code) unless
  --allow-pickle         push them anyway: marked pickle: true in the card, and validate warns
  --from-hf-cache        require <dir> to be a Hugging Face cache snapshot (models--ORG--NAME/snapshots/REV or
                         the models--ORG--NAME folder); one is detected anyway and recorded as lineage.source`;

export const pushCommand: Command = {
  usage,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(
      argv,
      {
        model: { type: 'string', short: 'm' },
        version: { type: 'string', short: 'v' },
        store: { type: 'string' },
        repo: { type: 'string', default: '.' },
        'dry-run': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        summary: { type: 'string' },
        'code-repo': { type: 'string' },
        'code-commit': { type: 'string' },
        'code-dir': { type: 'string' },
        parent: { type: 'string' },
        'interface-from': { type: 'string' },
        family: { type: 'string' },
        draft: { type: 'boolean', default: false },
        base: { type: 'string' },
        'base-relation': { type: 'string' },
        'allow-pickle': { type: 'boolean', default: false },
        'from-hf-cache': { type: 'boolean', default: false },
      },
      usage,
      true,
    );
    if (values.help) {
      console.log(help);
      return EXIT.ok;
    }
    const [dir, ...extra] = positionals;
    if (!dir || extra.length) throw new UserError(`expected exactly one model folder\nusage: ${usage}`);
    if (!values.model) throw new UserError(`--model is required\nusage: ${usage}`);
    if (!values.version) throw new UserError(`--version is required\nusage: ${usage}`);
    const storeUrl = resolveStoreUrl(values.repo, values.store);

    const progress = new ProgressLine(process.stderr, !values.json);
    const hooks = progress.enabled ? progressHandler(progress) : undefined;
    let result: PushModelResult;
    try {
      result = await pushModel({
        dir,
        model: values.model,
        version: values.version,
        repo: values.repo,
        storeUrl,
        dryRun: values['dry-run'],
        draft: values.draft,
        ...(values['allow-pickle'] ? { allowPickle: true } : {}),
        ...(values['from-hf-cache'] ? { fromHfCache: true } : {}),
        ...(values['base-relation'] !== undefined ? { baseRelation: parseBaseRelation(values['base-relation']) } : {}),
        ...pick(values, {
          base: 'base',
          summary: 'summary',
          family: 'family',
          codeRepository: 'code-repo',
          codeCommit: 'code-commit',
          codeDir: 'code-dir',
          parent: 'parent',
          interfaceFrom: 'interface-from',
        }),
        ...(hooks ?? {}),
      });
    } finally {
      progress.finish();
    }

    const refused = !result.valid && !result.card.draft;
    if (values.json) {
      const { text: _text, ...card } = result.card;
      void _text;
      printJson({
        model: result.model,
        version: result.version,
        store: result.store,
        dryRun: result.dryRun,
        card,
        files: result.files,
        totals: result.totals,
        seconds: Number(result.seconds.toFixed(3)),
        throughputBytesPerSecond: result.throughputBytesPerSecond,
        valid: result.valid,
        errors: result.errors,
        diagnostics: result.diagnostics,
        notes: result.notes,
      });
      if (refused) process.stderr.write(`model-gitops push: ${refusal(result)}\n`);
    } else {
      report(result);
    }
    return refused ? EXIT.violations : EXIT.ok;
  },
};

function pick<T extends Record<string, unknown>, M extends Record<string, keyof T>>(
  values: T,
  map: M,
): { [K in keyof M]?: string } {
  const out: Record<string, string> = {};
  for (const [to, from] of Object.entries(map)) if (typeof values[from] === 'string') out[to] = values[from] as string;
  return out as { [K in keyof M]?: string };
}

function progressHandler(bar: ProgressLine): {
  onScanned: (files: ModelFile[]) => void;
  onProgress: (p: PushProgress) => void;
} {
  let total = 0;
  let count = 0;
  let done = 0;
  let sent = 0;
  let inFile = 0;
  let finished = 0;
  let label = '';
  return {
    onScanned(files) {
      count = files.length;
      total = files.reduce((a, f) => a + f.size, 0);
    },
    onProgress(p) {
      switch (p.kind) {
        case 'hashing':
          label = `hashing ${p.path}`;
          break;
        case 'uploading':
          label = `sending ${p.path}`;
          inFile = 0;
          break;
        case 'deduplicated':
          label = `in store ${p.path}`;
          break;
        case 'part':
          sent += p.bytes;
          inFile = p.sentBytes;
          break;
        case 'resumed':
          inFile = p.bytes;
          label = `resuming ${p.path}`;
          break;
        case 'done':
          done += p.result.size;
          inFile = 0;
          finished++;
          break;
      }
      bar.update(
        {
          done: done + inFile,
          total: Math.max(total, done + inFile),
          sent,
          label: printable(label),
          count: `${finished}/${count} files`,
        },
        p.kind === 'done',
      );
    },
  };
}

function refusal(r: PushModelResult): string {
  const what = r.dryRun ? 'would be invalid' : 'would leave the registry invalid';
  return (
    `${r.card.path} ${what} (${r.errors} error${r.errors === 1 ? '' : 's'}); the card was not written. ` +
    (r.dryRun || r.totals.sentBytes === 0
      ? ''
      : 'The blobs already uploaded stay in the store; that is harmless (they are content-addressed and never overwritten) and the next push will not send them again.')
  );
}

function report(r: PushModelResult): void {
  const rows = r.files.map((f) => [
    printable(f.path),
    formatBytes(f.size),
    r.dryRun
      ? f.deduplicated
        ? dim('already in store')
        : 'would send'
      : f.deduplicated
        ? dim('deduplicated')
        : f.resumed > 0
          ? `sent (resumed ${formatBytes(f.resumed)})`
          : 'sent',
  ]);
  const t = r.totals;
  if (r.dryRun) {
    console.log(`dry run against ${r.store}: nothing sent, nothing written`);
    console.log(table(rows).replace(/^/gm, '  '));
    console.log(`would send ${formatBytes(t.toSendBytes)}; ${formatBytes(t.deduplicatedBytes)} already in the store`);
  } else {
    console.log(`pushed ${t.files} file${t.files === 1 ? '' : 's'} (${formatBytes(t.bytes)}) to ${r.store}`);
    console.log(table(rows).replace(/^/gm, '  '));
    console.log(
      `sent ${formatBytes(t.sentBytes)}, deduplicated ${formatBytes(t.deduplicatedBytes)}${t.sentBytes > 0 ? `, ${formatRate(r.throughputBytesPerSecond)}` : ''} in ${r.seconds.toFixed(1)} s`,
    );
  }
  for (const n of r.notes) console.error(yellow(`note: ${n}`, process.stderr));
  for (const d of r.diagnostics) console.error(formatDiagnostic(d));
  const c = r.card;
  if (!r.valid && !c.draft) {
    console.error(red(refusal(r), process.stderr));
    return;
  }
  const verb = r.dryRun
    ? { created: 'would create', updated: 'would update', unchanged: 'unchanged:' }[c.status]
    : { created: 'created', updated: 'updated', unchanged: 'unchanged:' }[c.status];
  console.log(
    `${verb} ${c.path}${c.changes.length && c.status === 'updated' ? ` (${c.changes.length} change${c.changes.length === 1 ? '' : 's'}: ${c.changes.join(', ')})` : ''}`,
  );
  if (c.draft) {
    console.log(yellow(`draft: fill in ${c.placeholders.join(', ')} (marked TODO), then run model-gitops validate`));
  } else if (r.valid && c.status !== 'unchanged' && !r.dryRun) {
    console.log(green('valid: review the card, commit it and open a pull request'));
  }
  if (r.dryRun) console.log(dim(c.text.replace(/^/gm, '  | ')));
}
