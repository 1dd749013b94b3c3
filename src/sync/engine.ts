// syncEnvironment: make <dir> run what the manifest says for one environment, fetching as few bytes
// as possible, activating only verified bytes, and never losing the last good version. The steps have
// their own files: targets.ts (what to sync), fetch-version.ts (bytes into the cache), activate.ts
// (switching `current`), gc.ts (what the cache no longer needs).
import { mkdir } from 'node:fs/promises';
import { environmentSlice, type ManifestFile } from '../manifest/manifest.ts';
import { asUserError } from '../lib/errors.ts';
import { activateVersion } from './activate.ts';
import { NetworkError, VerificationError } from './errors.ts';
import { VersionFetcher } from './fetch-version.ts';
import { collectGarbage } from './gc.ts';
import { deviceKeyOf, ensureDirs, lock, readState, type SyncState, writeState } from './local-store.ts';
import { selectTargets, type Target } from './targets.ts';
import type { ModelOutcome, SyncEvent, SyncOptions, SyncResult } from './types.ts';

export { fetchVersion } from './fetch-version.ts';
export { pruneVersions } from './gc.ts';
export type { CacheOptions, FetchVersionOptions, ModelOutcome, SyncEvent, SyncOptions, SyncResult } from './types.ts';

/** Versions remembered per model in state.json (the order gc keeps them in). */
const HISTORY_LENGTH = 20;

export async function syncEnvironment(o: SyncOptions): Promise<SyncResult> {
  const slice = environmentSlice(o.manifest, o.environment);
  const emit = o.onEvent ?? (() => {});
  await mkdir(o.dir, { recursive: true });
  await ensureDirs(o.dir);
  const release = await lock(o.dir);
  try {
    const { state, warning } = await readState(o.dir);
    if (warning) emit({ type: 'warning', message: warning });
    state.environment = o.environment;
    const deviceKey = o.deviceKey ?? (o.canary ? await deviceKeyOf(o.dir) : undefined);
    const device = { ...(deviceKey !== undefined ? { deviceKey } : {}), ...(o.canary ? { canary: true } : {}) };
    const targets = await selectTargets(slice, o.environment, o.dir, device);
    return await syncTargets(o, emit, state, targets);
  } finally {
    await release();
  }
}

/** Plans (what is missing, is there room), then fetches, installs and records each target; then gc. */
async function syncTargets(
  o: SyncOptions,
  emit: (e: SyncEvent) => void,
  state: SyncState,
  targets: Target[],
): Promise<SyncResult> {
  const fetcher = new VersionFetcher(o, emit);
  const outcomes: ModelOutcome[] = [];
  const errors: Error[] = [];
  // Plan: which files are missing from the cache, and is there room for them?
  const missing = new Map<string, ManifestFile>();
  const current = new Set<Target>();
  for (const t of targets) {
    // Up to date: active, and its version folder intact.
    if (t.active === t.version && (await fetcher.versionIntact(t.model, t.version, t.files))) current.add(t);
    const needed = current.has(t) ? [] : await fetcher.missingFiles(t.files);
    for (const f of needed) missing.set(f.sha256, f);
    emit({
      type: 'plan',
      model: t.model,
      ...(t.active ? { from: t.active } : {}),
      to: t.version,
      role: t.role,
      files: needed.length,
      bytesToFetch: needed.reduce((n, f) => n + f.size, 0),
    });
  }
  fetcher.bytesPlanned = [...missing.values()].reduce((n, f) => n + f.size, 0);
  await fetcher.checkDiskSpace([...missing.values()]);

  for (const t of targets) {
    const outcome: ModelOutcome = {
      model: t.model,
      version: t.version,
      role: t.role,
      ...(t.active ? { previous: t.active } : {}),
      changed: false,
    };
    try {
      if (!current.has(t)) {
        for (const f of t.files) await fetcher.ensureBlob(t.model, f);
        await fetcher.materialize(t.model, t.version, t.files);
        await activateVersion(o, t.model, t.version, emit);
        outcome.changed = true;
      }
      const ms = (state.models[t.model] ??= { history: [] });
      ms.active = t.version;
      ms.history = [t.version, ...ms.history.filter((v) => v !== t.version)].slice(0, HISTORY_LENGTH);
      delete ms.lastError;
    } catch (e) {
      if ((e as Error).name === 'AbortError') throw e;
      outcome.error = (e as Error).message;
      errors.push(e as Error);
      (state.models[t.model] ??= { history: [] }).lastError = outcome.error;
      emit({ type: 'error', model: t.model, message: outcome.error });
    }
    outcomes.push(outcome);
  }
  await writeState(o.dir, state);
  await collectGarbage(o, state, targets, emit);
  if (errors.length) {
    // A bug first, as it is (with its stack). Then the most serious: a refused verification outranks a
    // network failure, which outranks local I/O (disk full, permissions: a UserError with the OS message).
    const bug = errors.find((e) => asUserError(e) === undefined);
    if (bug) throw bug;
    const rank = (e: Error) => (e instanceof VerificationError ? 0 : e instanceof NetworkError ? 1 : 2);
    throw asUserError([...errors].sort((a, b) => rank(a) - rank(b))[0]!)!;
  }
  const { bytesFetched, bytesReused, requests, retries } = fetcher.stats();
  return { models: outcomes, changed: outcomes.some((m) => m.changed), bytesFetched, bytesReused, requests, retries };
}
