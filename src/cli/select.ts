// `model-gitops select`: which published versions of an environment meet the requirements, best first.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UserError } from '../lib/errors.ts';
import { EXIT } from '../lib/exit-codes.ts';
import { parseMinimum, selectVersions } from '../lifecycle/select.ts';
import type { Manifest } from '../manifest/manifest.ts';
import { readCurrentPublication } from '../publish/store-reads.ts';
import { resolveStoreUrl } from '../authoring/push-model.ts';
import { openStore } from '../store/index.ts';
import { type Command, intOption, numberOption, parseCommandArgs } from './command.ts';
import { printJson, table } from './output.ts';

const usage =
  'model-gitops select --environment E [--task T] [--max-latency-p99 MS] [--min METRIC=VALUE]... [--max-parameters N] [--format F] [--store URL | --manifest FILE] [--json]';

export const selectCommand: Command = {
  usage,
  async run(argv) {
    const { values } = parseCommandArgs(
      argv,
      {
        environment: { type: 'string', short: 'e' },
        task: { type: 'string' },
        'max-latency-p99': { type: 'string' },
        min: { type: 'string', multiple: true },
        'max-parameters': { type: 'string' },
        format: { type: 'string' },
        store: { type: 'string' },
        manifest: { type: 'string' },
        repo: { type: 'string', default: '.' },
        json: { type: 'boolean', default: false },
      },
      usage,
    );
    if (values.help) {
      console.log(
        `usage: ${usage}\n\nCandidates are the champion and canary of every model the environment runs in the published manifest\n` +
          '(the current signed one in --store, or --manifest FILE). --min reads the benchmark summary first, else the\n' +
          'card metrics. Qualified candidates are listed best first by the rule printed with them; every other one\n' +
          'is listed with the reasons it was excluded. Exit 1 when none qualifies.',
      );
      return EXIT.ok;
    }
    if (!values.environment) throw new UserError(`--environment is required\nusage: ${usage}`);
    if (values.store && values.manifest)
      throw new UserError('--store and --manifest cannot be combined: pick one source');
    let manifest: Manifest;
    if (values.manifest) {
      try {
        manifest = JSON.parse(readFileSync(values.manifest, 'utf8')) as Manifest;
      } catch (e) {
        throw new UserError(`${values.manifest}: not a readable JSON manifest (${(e as Error).message})`);
      }
    } else {
      const repo = resolve(values.repo);
      const store = openStore(resolveStoreUrl(values.repo, values.store), {
        s3: { stateDir: join(repo, '.model-gitops') },
      });
      const cur = await readCurrentPublication(store);
      if (!cur.manifest)
        throw new UserError(`${store.url} has no published manifest yet; run model-gitops publish first`);
      manifest = cur.manifest;
    }
    const min: Record<string, number> = {};
    for (const m of values.min ?? []) {
      const [k, v] = parseMinimum(m);
      min[k] = v;
    }
    const maxLatency = numberOption('max-latency-p99', values['max-latency-p99'], 0);
    const maxParameters = intOption('max-parameters', values['max-parameters'], { min: 1 });
    const r = selectVersions(manifest, {
      environment: values.environment,
      ...(values.task ? { task: values.task } : {}),
      ...(values.format ? { format: values.format } : {}),
      ...(maxLatency !== undefined ? { maxLatencyP99Ms: maxLatency } : {}),
      ...(maxParameters !== undefined ? { maxParameters } : {}),
      min,
    });
    if (values.json) printJson(r);
    else {
      console.log(`${r.environment} (manifest sequence ${r.manifest.sequence}); order: ${r.rule}`);
      if (r.qualified.length)
        console.log(
          table(
            r.qualified.map((c, i) => [
              `${i + 1}.`,
              `${c.model}@${c.version}${c.role === 'canary' ? ' (canary)' : ''}`,
              c.task ?? '',
              `${c.format}${c.parameters ? ` ${c.parameters} params` : ''}`,
              c.latencyP99Ms !== null ? `p99 ${c.latencyP99Ms} ms` : '',
              Object.entries(c.metrics)
                .map(([k, v]) => `${k}=${v}`)
                .join(' '),
              c.deprecated ?? '',
            ]),
          ),
        );
      else console.log('no version qualifies');
      for (const x of r.excluded)
        console.log(`excluded ${x.candidate.model}@${x.candidate.version}: ${x.reasons.join('; ')}`);
    }
    return r.qualified.length ? EXIT.ok : EXIT.violations;
  },
};
