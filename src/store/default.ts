// The one place that says which store a command uses when none is given: MODEL_GITOPS_STORE, else the
// embedded local-folder store inside the repository (needs nothing installed; keep it out of git).
import { join, resolve } from 'node:path';
import { UserError } from '../lib/errors.ts';

export const STORE_ENV = 'MODEL_GITOPS_STORE';
export const DEFAULT_STORE_DIR = '.model-gitops/store';

export function defaultStoreUrl(repo = '.', env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env[STORE_ENV]?.trim();
  if (fromEnv) return fromEnv;
  return join(resolve(repo), DEFAULT_STORE_DIR);
}

/**
 * `--store` when given, else the default above. A URL carrying credentials (s3://key:secret@...) is
 * refused: they would end up in logs and shell history; the AWS_* environment or an OIDC role is the way.
 */
export function storeUrlOrDefault(flag: string | undefined, repo = '.', env: NodeJS.ProcessEnv = process.env): string {
  const url = flag && flag.trim() ? flag.trim() : defaultStoreUrl(repo, env);
  if (hasUserinfo(url)) {
    throw new UserError(
      `store URL ${redactUrl(url)} carries credentials; remove them and use the AWS_* environment (or an OIDC role) instead`,
    );
  }
  return url;
}

/** The same, argument order of the push command. */
export function resolveStoreUrl(repo: string, flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  return storeUrlOrDefault(flag, repo, env);
}

const USERINFO = /^([a-z][a-z0-9+.-]*:\/\/)([^/@]*)@/i;
export function hasUserinfo(url: string): boolean {
  return USERINFO.test(url);
}
/** The URL with any user:password@ replaced, for messages and outputs. */
export function redactUrl(url: string): string {
  return url.replace(USERINFO, '$1***@');
}
/** The user and password parts of a URL's userinfo, decoded (to mask them in CI logs). */
export function urlCredentials(url: string): string[] {
  const m = USERINFO.exec(url);
  if (!m) return [];
  const out: string[] = [];
  for (const part of m[2]!.split(':')) {
    if (!part) continue;
    out.push(part);
    try {
      const d = decodeURIComponent(part);
      if (d !== part) out.push(d);
    } catch {
      // not percent-encoded
    }
  }
  return out;
}
