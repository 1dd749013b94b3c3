// The one place that says which store a command uses when none is given: MODEL_GITOPS_STORE, else the
// embedded local-folder store inside the repository (needs nothing installed; keep it out of git).
import { join, resolve } from 'node:path';

export const STORE_ENV = 'MODEL_GITOPS_STORE';
export const DEFAULT_STORE_DIR = '.model-gitops/store';

export function defaultStoreUrl(repo = '.', env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env[STORE_ENV]?.trim();
  if (fromEnv) return fromEnv;
  return join(resolve(repo), DEFAULT_STORE_DIR);
}

/** `--store` when given, else the default above. */
export function storeUrlOrDefault(flag: string | undefined, repo = '.', env: NodeJS.ProcessEnv = process.env): string {
  return flag && flag.trim() ? flag.trim() : defaultStoreUrl(repo, env);
}
