// A PEFT adapter folder (adapter_config.json + adapter_model.safetensors): weights applied on top of a
// base model at run time, so its card names the base ({model, range, relation: adapter}) instead of
// pinning it as an ordinary dependency.
import { UserError } from '../../lib/errors.ts';

export interface PeftFacts {
  peftType: string;
  /** base_model_name_or_path as written (a hub id or a local path). */
  baseModel?: string;
  r?: number;
  loraAlpha?: number;
  targetModules: string[];
  taskType?: string;
}

export function readAdapterConfig(text: string, file = 'adapter_config.json'): PeftFacts {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${file}: not valid JSON (${(e as Error).message}); re-save the adapter`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new UserError(`${file}: not a JSON object`);
  const c = v as Record<string, unknown>;
  if (typeof c.peft_type !== 'string')
    throw new UserError(
      `${file}: peft_type is missing; not a PEFT adapter config (save it with model.save_pretrained)`,
    );
  const num = (k: string) => (typeof c[k] === 'number' && Number.isFinite(c[k]) ? (c[k] as number) : undefined);
  const tm = c.target_modules;
  const facts: PeftFacts = {
    peftType: c.peft_type,
    targetModules: typeof tm === 'string' ? [tm] : Array.isArray(tm) ? tm.filter((x) => typeof x === 'string') : [],
  };
  if (typeof c.base_model_name_or_path === 'string' && c.base_model_name_or_path !== '')
    facts.baseModel = c.base_model_name_or_path;
  const r = num('r');
  if (r !== undefined) facts.r = r;
  const alpha = num('lora_alpha');
  if (alpha !== undefined) facts.loraAlpha = alpha;
  if (typeof c.task_type === 'string') facts.taskType = c.task_type;
  return facts;
}

/** The adapter's shape as hyperparameters (peft_type, r, lora_alpha, target_modules). */
export function peftHyperparameters(p: PeftFacts): Record<string, number | string> {
  return {
    peft_type: p.peftType,
    ...(p.r !== undefined ? { lora_r: p.r } : {}),
    ...(p.loraAlpha !== undefined ? { lora_alpha: p.loraAlpha } : {}),
    ...(p.targetModules.length ? { target_modules: [...p.targetModules].sort().join(',') } : {}),
  };
}
