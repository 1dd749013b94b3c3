// Shared by the publishing commands: where the store, the keys and the source identity come from.
import { basename, join, resolve } from 'node:path';
import { runGit } from '../lib/git.ts';
import { storeUrlOrDefault } from '../store/default.ts';
import { openStore } from '../store/open.ts';
import type { BlobStore } from '../store/types.ts';

export const DEFAULT_KEYS_DIR = '.model-gitops/keys';

export function keysDirOf(flag: string | undefined, repo: string): string {
  return flag ? resolve(flag) : join(resolve(repo), DEFAULT_KEYS_DIR);
}

export function openCommandStore(flag: string | undefined, repo: string): BlobStore {
  return openStore(storeUrlOrDefault(flag, repo), { s3: { stateDir: join(resolve(repo), '.model-gitops') } });
}

/** owner/name: --source-repo, else GITHUB_REPOSITORY, else the origin remote, else local/<folder>. */
export function sourceRepository(flag: string | undefined, repo: string, env: NodeJS.ProcessEnv = process.env): string {
  if (flag) return flag;
  if (env.GITHUB_REPOSITORY) return env.GITHUB_REPOSITORY;
  const r = runGit(repo, ['remote', 'get-url', 'origin']);
  const m = r.status === 0 ? /[:/]([^/:]+\/[^/]+?)(?:\.git)?\/?$/.exec(r.stdout.toString().trim()) : null;
  return m?.[1] ?? `local/${basename(resolve(repo))}`;
}
