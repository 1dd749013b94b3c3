// Installing a version already in the cache: `current` switched to it by renaming a new symlink over
// the old one, the load hook run, and the previous version restored if the hook fails.
import { randomBytes } from 'node:crypto';
import { rename, symlink, unlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { fsyncDir } from '../lib/fs-atomic.ts';
import { crashPoint } from './crash.ts';
import { VerificationError } from './errors.ts';
import { activeVersion, paths } from './local-store.ts';
import type { SyncEvent, SyncOptions } from './types.ts';

/**
 * Switches `current` to `version`; runs the load hook; rolls back if it fails. The hook's throw is its
 * verdict on the version (it did not load), a VerificationError with the hook's error as its cause.
 */
export async function activateVersion(
  o: Pick<SyncOptions, 'dir' | 'loadHook'>,
  model: string,
  version: string,
  emit: (e: SyncEvent) => void,
): Promise<void> {
  const p = paths(o.dir);
  const previous = await activeVersion(o.dir, model);
  crashPoint('before-symlink-swap');
  await pointCurrent(p, model, version);
  crashPoint('after-swap-before-state');
  if (o.loadHook) {
    try {
      await o.loadHook(model, version, p.version(model, version));
    } catch (e) {
      const error = (e as Error).message;
      if (previous && previous !== version) await pointCurrent(p, model, previous);
      else await unlink(p.current(model)).catch(() => {});
      emit({ type: 'rolled-back', model, version, ...(previous ? { restored: previous } : {}), error });
      throw new VerificationError(
        `${model}@${version} failed to load (${error}); ${previous ? `rolled back to ${previous}` : 'no previous version to roll back to'}`,
        { cause: e },
      );
    }
  }
  emit({ type: 'activated', model, version, ...(previous && previous !== version ? { previous } : {}) });
}

async function pointCurrent(p: ReturnType<typeof paths>, model: string, version: string): Promise<void> {
  const dir = p.model(model);
  const tmp = join(dir, `.current-${randomBytes(4).toString('hex')}`);
  await symlink(posix.join('versions', version), tmp);
  await rename(tmp, p.current(model));
  await fsyncDir(dir);
}
