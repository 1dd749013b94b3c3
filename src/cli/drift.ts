// `model-gitops drift`: a version's live distributions (the gateway's window counters) against its
// reference from the golden-set evaluation, with model.yaml drift thresholds. Exit 1 on `fail`.
import { readFileSync } from 'node:fs';
import { UserError } from '../lib/errors.ts';
import { EXIT } from '../lib/exit-codes.ts';
import { mergeWindows } from '../observe/counters.ts';
import { checkDrift } from '../observe/drift.ts';
import { parseEvaluationReport } from '../observe/evaluation.ts';
import { type Command, numberOption, parseCommandArgs } from './command.ts';
import { loadObservations, loadRegistry, modelEntry } from './observe-common.ts';
import { printJson, table } from './output.ts';

const usage =
  'model-gitops drift --model M --reference EVALUATION.json (--gateway URL | --observations FILE) [--version V] [--minutes N] [--repo DIR] [--json]';

export const driftCommand: Command = {
  usage,
  async run(argv) {
    const { values } = parseCommandArgs(
      argv,
      {
        model: { type: 'string' },
        version: { type: 'string' },
        reference: { type: 'string' },
        gateway: { type: 'string' },
        observations: { type: 'string' },
        minutes: { type: 'string' },
        repo: { type: 'string', default: '.' },
        json: { type: 'boolean', default: false },
      },
      usage,
    );
    if (values.help) {
      console.log(`usage: ${usage}`);
      return EXIT.ok;
    }
    if (!values.model || !values.reference)
      throw new UserError(`--model and --reference are required\nusage: ${usage}`);
    const minutes = numberOption('minutes', values.minutes, 0);
    let refText: string;
    try {
      refText = readFileSync(values.reference, 'utf8');
    } catch (e) {
      throw new UserError(`--reference ${values.reference}: ${(e as Error).message}`);
    }
    const ref = parseEvaluationReport(refText, values.reference);
    if (ref.model !== values.model)
      throw new UserError(`${values.reference} is an evaluation of ${ref.model}, not ${values.model}`);
    const version = values.version ?? ref.version;
    const snapshot = await loadObservations(values, usage);
    const { card } = modelEntry(loadRegistry(values.repo), values.model);
    const since = minutes === undefined ? Number.NEGATIVE_INFINITY : Date.parse(snapshot.takenAt) - minutes * 60_000;
    const windows = snapshot.versions
      .filter((v) => v.model === values.model && v.version === version)
      .flatMap((v) => v.windows)
      .filter((w) => w.start >= since);
    const live = mergeWindows(windows);
    const check = checkDrift(live, ref.reference, card.drift);
    const result = { model: values.model, version, reference: `${ref.version} evaluated ${ref.evaluatedAt}`, ...check };
    if (values.json) printJson(result);
    else {
      console.log(
        `${values.model}@${version}: drift ${check.level} over ${check.requests} requests (reference: ${result.reference})`,
      );
      if (check.findings.length)
        console.log(
          table([
            ['feature', 'metric', 'value', 'level'],
            ...check.findings.map((f) => [f.feature, f.metric, f.value.toFixed(4), f.level]),
          ]),
        );
    }
    return check.level === 'fail' ? EXIT.violations : EXIT.ok;
  },
};
