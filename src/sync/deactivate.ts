// A model that left the device's environment stops running there: its `current` link is removed (one
// unlink, atomic), state.json records when and from where, and its version folders stay for --keep and gc
// to decide, so coming back to the environment is a relink, not a download.
import { unlink } from 'node:fs/promises';
import { fsyncDir } from '../lib/fs-atomic.ts';
import { activeVersion, listDir, paths, type SyncState } from './local-store.ts';
import type { SyncEvent } from './types.ts';

export async function deactivateRemoved(
  dir: string,
  environment: string,
  state: SyncState,
  inEnvironment: Set<string>,
  emit: (e: SyncEvent) => void,
): Promise<{ model: string; version: string }[]> {
  const p = paths(dir);
  const out: { model: string; version: string }[] = [];
  for (const model of await listDir(p.models)) {
    if (model.startsWith('.') || inEnvironment.has(model)) continue;
    const ms = state.models[model];
    const linked = await activeVersion(dir, model);
    // A crash between the unlink and state.json leaves state's `active` behind: finished here.
    const version = linked ?? ms?.active;
    if (version === undefined) continue;
    if (linked !== undefined) {
      await unlink(p.current(model)).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT') throw e;
      });
      await fsyncDir(p.model(model));
    }
    const s = (state.models[model] ??= { history: [version] });
    delete s.active;
    s.removed = { at: new Date().toISOString(), environment };
    const reason = `${model} is no longer in ${environment}`;
    emit({ type: 'deactivated', model, version, reason });
    out.push({ model, version });
  }
  return out;
}
