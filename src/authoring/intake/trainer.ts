// Hugging Face Trainer output: trainer_state.json, all_results.json, train_results.json and
// eval_results.json become metrics, hyperparameters and the training duration. training_args.bin is a
// pickle and is never read (loading it runs code); what it holds that a card needs is in trainer_state.json.

export interface TrainerFacts {
  metrics: Record<string, number>;
  hyperparameters: Record<string, number | string | boolean>;
  durationSeconds?: number;
  /** Which files the facts came from. */
  sources: string[];
  notes: string[];
}

export const TRAINER_FILES = ['trainer_state.json', 'all_results.json', 'train_results.json', 'eval_results.json'];

/** Speed figures are not model quality; epoch is a hyperparameter. */
const NOT_METRICS = /(?:_runtime|_samples_per_second|_steps_per_second|_flos|^epoch)$/;
const IDENTIFIER = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** trainer_state.json key -> card hyperparameter name. */
const STATE_HYPERPARAMETERS: Readonly<Record<string, string>> = {
  num_train_epochs: 'epochs',
  train_batch_size: 'train_batch_size',
  max_steps: 'max_steps',
  global_step: 'global_step',
  eval_steps: 'eval_steps',
  save_steps: 'save_steps',
  logging_steps: 'logging_steps',
};

/** `texts` maps a file name of TRAINER_FILES to its text (only those present). Undefined when there are none. */
export function readTrainerOutput(texts: ReadonlyMap<string, string>): TrainerFacts | undefined {
  if (texts.size === 0) return undefined;
  const facts: TrainerFacts = { metrics: {}, hyperparameters: {}, sources: [], notes: [] };
  const json = (name: string): Record<string, unknown> | undefined => {
    const t = texts.get(name);
    if (t === undefined) return undefined;
    try {
      const v = JSON.parse(t) as unknown;
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
        facts.sources.push(name);
        return v as Record<string, unknown>;
      }
      facts.notes.push(`${name} is not a JSON object; not read`);
    } catch (e) {
      facts.notes.push(`${name} is not valid JSON (${(e as Error).message}); not read`);
    }
    return undefined;
  };
  const state = json('trainer_state.json');
  if (state) {
    for (const [from, to] of Object.entries(STATE_HYPERPARAMETERS)) {
      const v = state[from];
      if (typeof v === 'number' && Number.isFinite(v)) facts.hyperparameters[to] = v;
    }
    if (typeof state.best_metric === 'number' && Number.isFinite(state.best_metric))
      facts.metrics.best_metric = state.best_metric;
  }
  // Later files win: eval_results.json is the final evaluation.
  for (const name of ['all_results.json', 'train_results.json', 'eval_results.json']) {
    const r = json(name);
    if (!r) continue;
    for (const [k, v] of Object.entries(r)) {
      if (typeof v !== 'number' || !Number.isFinite(v)) continue;
      if (k === 'train_runtime') facts.durationSeconds = v;
      if (NOT_METRICS.test(k)) continue;
      const metric = k.startsWith('eval_') ? k.slice(5) : k;
      if (IDENTIFIER.test(metric)) facts.metrics[metric] = v;
      else facts.notes.push(`${name}: ${JSON.stringify(k)} is not usable as a metric name; not recorded`);
    }
  }
  return facts.sources.length ? facts : { ...facts, sources: [] };
}
