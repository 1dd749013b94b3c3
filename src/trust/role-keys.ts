// Where the publisher's keys come from: one environment variable per online role (the CI secrets), or
// files in a keys folder (what `model-gitops keys init` writes, and what the demo uses). Root keys are
// only ever read from files: they belong offline, never in CI.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../lib/errors.ts';
import { type SigningKey, loadSigningKeyFromEnv, loadSigningKeyFromFile } from './keys.ts';
import type { PublishKeys } from './repository.ts';

export const ONLINE_ROLES = ['targets', 'snapshot', 'timestamp'] as const;
export type OnlineRole = (typeof ONLINE_ROLES)[number];

/** The CI secret that holds each online role's key. */
export const KEY_ENV: Record<OnlineRole, string> = {
  targets: 'MODEL_GITOPS_TARGETS_KEY',
  snapshot: 'MODEL_GITOPS_SNAPSHOT_KEY',
  timestamp: 'MODEL_GITOPS_TIMESTAMP_KEY',
};

export const keyFile = (dir: string, role: OnlineRole | `root-${number}`): string => join(dir, `${role}.key`);

/** Online keys from the environment when set, else from `keysDir`; says which one is missing and how to provide it. */
export function loadPublishKeys(keysDir: string | undefined, env: NodeJS.ProcessEnv = process.env): PublishKeys {
  const load = (role: OnlineRole): SigningKey => {
    if (env[KEY_ENV[role]]) return loadSigningKeyFromEnv(KEY_ENV[role], env);
    if (keysDir && existsSync(keyFile(keysDir, role))) return loadSigningKeyFromFile(keyFile(keysDir, role));
    throw new UserError(
      `no ${role} key: set ${KEY_ENV[role]} (the CI secret) or pass --keys-dir with ${role}.key (from \`model-gitops keys init\`)`,
    );
  };
  return { targets: load('targets'), snapshot: load('snapshot'), timestamp: load('timestamp') };
}

/** Writes a private key readable by its owner only; refuses to overwrite one. */
export function writeKeyFile(path: string, key: SigningKey): void {
  mkdirSync(join(path, '..'), { recursive: true, mode: 0o700 });
  try {
    writeFileSync(path, `${key.exportSecret()}\n`, { mode: 0o600, flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST')
      throw new UserError(`${path} already exists; refusing to overwrite a key`);
    throw e;
  }
}
