// `model-gitops verify`: every artifact of every version card is in the store, with its size and sha256.
import { printable } from '../registry/diagnostics.ts';
import { UserError } from '../lib/errors.ts';
import { resolveStoreUrl, STORE_ENV } from '../authoring/push-model.ts';
import { WorkingTreeSource } from '../registry/source.ts';
import { openStore } from '../store/index.ts';
import { validateRegistry } from '../registry/validate.ts';
import { verifyStore } from '../authoring/verify-store.ts';
import { DEFAULT_MAX_FILE_BYTES } from '../registry/yaml-file.ts';
import { join, resolve } from 'node:path';
import { EXIT } from '../lib/exit-codes.ts';
import { type Command, parseCommandArgs } from './command.ts';
import { green, printJson, red, table, yellow } from './output.ts';
import { formatBytes } from '../lib/format.ts';
import { ProgressLine } from './progress.ts';

const usage = 'model-gitops verify [--store URL] [--repo DIR] [--model M] [--rehash] [--json]';

const help = `usage: ${usage}

Checks that the store holds every artifact of every version card (or of one model's cards) with the
recorded size and sha256 metadata. With --rehash, downloads every blob and hashes its bytes too.
Exit 0 when all are good, 1 when any is missing or wrong (or a card is invalid and was skipped).

  --store URL   s3://bucket/prefix, file:///path or a folder. Default: $${STORE_ENV}, else <repo>/.model-gitops/store
  --repo DIR    the registry repository (default .)
  --model M     only this model's cards
  --rehash      download and hash every blob (slow; proves the bytes, not just the metadata)
  --json        one JSON object on stdout`;

export const verifyCommand: Command = {
  usage,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(
      argv,
      {
        store: { type: 'string' },
        repo: { type: 'string', default: '.' },
        model: { type: 'string', short: 'm' },
        rehash: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
      },
      usage,
      true,
    );
    if (values.help) {
      console.log(help);
      return EXIT.ok;
    }
    if (positionals.length) throw new UserError(`unexpected argument "${positionals[0]}"\nusage: ${usage}`);
    const storeUrl = resolveStoreUrl(values.repo, values.store);
    const validation = validateRegistry(new WorkingTreeSource(values.repo, { maxFileBytes: DEFAULT_MAX_FILE_BYTES }));
    const store = openStore(storeUrl, { s3: { stateDir: join(resolve(values.repo), '.model-gitops') } });
    const progress = new ProgressLine(process.stderr, !values.json);
    let result;
    try {
      result = await verifyStore(validation.registry, store, {
        rehash: values.rehash,
        ...(values.model !== undefined ? { model: values.model } : {}),
        ...(progress.enabled
          ? {
              onProgress: (done: number, total: number, hashed: number) =>
                progress.update(
                  {
                    done,
                    total,
                    bytes: false,
                    label: values.rehash ? `blobs (${formatBytes(hashed)} hashed)` : 'blobs',
                  },
                  done === total,
                ),
            }
          : {}),
      });
    } finally {
      progress.finish();
    }
    const failed = result.problems.length > 0 || result.skippedCards.length > 0;
    if (values.json) {
      printJson({
        store: store.url,
        rehash: values.rehash,
        ok: !failed,
        cards: result.cards,
        artifacts: result.checks.length,
        blobs: result.blobs,
        problems: result.problems,
        skippedCards: result.skippedCards,
      });
      return failed ? EXIT.violations : EXIT.ok;
    }
    for (const f of result.skippedCards)
      console.error(
        yellow(`${f}: invalid card, its artifacts were not checked (run model-gitops validate)`, process.stderr),
      );
    if (result.problems.length > 0) {
      console.log(
        table([
          ['MODEL', 'VERSION', 'PATH', 'PROBLEM', 'DETAIL'],
          ...result.problems.map((p) => [p.model, p.version, printable(p.path), p.status, printable(p.detail ?? '')]),
        ]),
      );
    }
    const what = `${result.checks.length} artifacts of ${result.cards} cards (${result.blobs} distinct blobs) in ${store.url}${values.rehash ? ', bytes re-hashed' : ''}`;
    if (!failed) console.log(green(`ok: ${what}`));
    else
      console.log(
        red(
          `${result.problems.length} problem${result.problems.length === 1 ? '' : 's'}${result.skippedCards.length ? `, ${result.skippedCards.length} card(s) skipped` : ''}: ${what}`,
        ),
      );
    return failed ? EXIT.violations : EXIT.ok;
  },
};
