// Shared by `drift`, `experiment report` and `evaluate`: read observations from a gateway or a file,
// and load a model's card from the registry checkout.
import { readFileSync } from 'node:fs';
import { UserError } from '../lib/errors.ts';
import { EXIT } from '../lib/exit-codes.ts';
import { type ObservationsSnapshot, parseObservations } from '../observe/observations.ts';
import { formatDiagnostic } from '../registry/diagnostics.ts';
import type { Registry } from '../registry/load.ts';
import { WorkingTreeSource } from '../registry/source.ts';
import { validateRegistry } from '../registry/validate.ts';
import { DEFAULT_MAX_FILE_BYTES } from '../registry/yaml-file.ts';

export const GATEWAY_KEY_ENV = 'MODEL_GITOPS_GATEWAY_KEY';

/** GET <gateway>/v1/observations (with the API key from MODEL_GITOPS_GATEWAY_KEY when set). */
export async function fetchObservations(gateway: string, env = process.env): Promise<ObservationsSnapshot> {
  let url: URL;
  try {
    url = new URL('/v1/observations', gateway);
  } catch {
    throw new UserError(`--gateway must be a URL such as http://127.0.0.1:8080, got "${gateway}"`);
  }
  const key = env[GATEWAY_KEY_ENV];
  let res: Response;
  try {
    res = await fetch(url, { headers: key ? { authorization: `Bearer ${key}` } : {} });
  } catch (e) {
    throw new UserError(`${url}: ${(e as Error).message}`, { exitCode: EXIT.network });
  }
  const text = await res.text();
  if (!res.ok) throw new UserError(`${url}: HTTP ${res.status} ${text.slice(0, 200)}`, { exitCode: EXIT.network });
  return parseObservations(text, String(url));
}

export async function loadObservations(values: { gateway?: string; observations?: string }, usage: string) {
  if (!!values.gateway === !!values.observations)
    throw new UserError(`give exactly one of --gateway URL or --observations FILE\nusage: ${usage}`);
  if (values.gateway) return fetchObservations(values.gateway);
  let text: string;
  try {
    text = readFileSync(values.observations!, 'utf8');
  } catch (e) {
    throw new UserError(`--observations ${values.observations}: ${(e as Error).message}`);
  }
  return parseObservations(text, values.observations!);
}

export function loadRegistry(repo: string): Registry {
  const v = validateRegistry(new WorkingTreeSource(repo, { maxFileBytes: DEFAULT_MAX_FILE_BYTES }));
  if (v.errors > 0) {
    for (const d of v.diagnostics.filter((x) => x.severity === 'error')) console.error(formatDiagnostic(d));
    throw new UserError(`the registry in ${repo} has errors; fix them first`, { exitCode: EXIT.violations });
  }
  return v.registry;
}

export function modelEntry(registry: Registry, model: string) {
  const m = registry.models.get(model);
  if (!m?.card) throw new UserError(`no model "${model}" (models/${model}/model.yaml) in the registry`);
  return { ...m, card: m.card };
}
