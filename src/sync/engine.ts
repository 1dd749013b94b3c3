// syncEnvironment: make <dir> run what the manifest says for one environment, fetching as few bytes
// as possible, activating only verified bytes, and never losing the last good version. The steps have
// their own files: targets.ts (what to sync), fetch-version.ts (bytes into the cache), activate.ts
// (switching `current`), gc.ts (what the cache no longer needs).
import { mkdir } from 'node:fs/promises';
import { environmentSlice, type ManifestFile } from '../manifest/manifest.ts';
import { asUserError } from '../lib/errors.ts';
import { activateVersion } from './activate.ts';
import { type AdapterBase, adapterBaseOf, checkBaseVersion, checkNoLinkCollision, linkBase } from './adapters.ts';
import { deactivateRemoved } from './deactivate.ts';
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
    // Bases before the adapters that run on them, so an adapter is linked and loaded on a base in place.
    const bases = new Map<Target, AdapterBase>();
    for (const t of targets) {
      const b = adapterBaseOf(slice, t.model, t.version);
      if (!b) continue;
      checkNoLinkCollision(t.model, t.version, t.files);
      bases.set(t, b);
    }
    targets.sort((a, b) => Number(bases.has(a)) - Number(bases.has(b)));
    return await syncTargets(o, emit, state, targets, bases);
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
  bases: Map<Target, AdapterBase>,
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

  const synced = new Map<string, string>(); // model -> the version now active, for adapters' bases
  for (const t of targets) {
    const outcome: ModelOutcome = {
      model: t.model,
      version: t.version,
      role: t.role,
      ...(t.active ? { previous: t.active } : {}),
      changed: false,
    };
    try {
      const base = bases.get(t);
      const baseVersion = base && synced.get(base.model);
      if (base && baseVersion === undefined) {
        // The base is not in this environment (a manifest check refuses that) or failed just now (reported).
        const failed = targets.some((x) => x.model === base.model);
        outcome.error = `${t.model}@${t.version} runs on ${base.model} ${base.range}, which ${failed ? 'did not sync' : `is not in ${o.environment}`}; not activating it`;
        if (!failed) errors.push(new VerificationError(outcome.error));
        (state.models[t.model] ??= { history: [] }).lastError = outcome.error;
        emit({ type: 'error', model: t.model, message: outcome.error });
        outcomes.push(outcome);
        continue;
      }
      if (base) checkBaseVersion(t.model, t.version, base, baseVersion!);
      if (!current.has(t)) {
        for (const f of t.files) await fetcher.ensureBlob(t.model, f);
        await fetcher.materialize(t.model, t.version, t.files);
        if (base) await linkBase(o.dir, t.model, t.version, base.model, baseVersion!);
        await activateVersion(o, t.model, t.version, emit);
        outcome.changed = true;
      } else if (base && (await linkBase(o.dir, t.model, t.version, base.model, baseVersion!))) {
        // The adapter stays, its base moved (within range): the link follows.
        emit({ type: 'base-linked', model: t.model, version: t.version, base: base.model, baseVersion: baseVersion! });
        outcome.changed = true;
      }
      if (base) outcome.base = `${base.model}@${baseVersion}`;
      synced.set(t.model, t.version);
      const ms = (state.models[t.model] ??= { history: [] });
      ms.active = t.version;
      ms.history = [t.version, ...ms.history.filter((v) => v !== t.version)].slice(0, HISTORY_LENGTH);
      delete ms.lastError;
      delete ms.removed;
    } catch (e) {
      if ((e as Error).name === 'AbortError') throw e;
      outcome.error = (e as Error).message;
      errors.push(e as Error);
      (state.models[t.model] ??= { history: [] }).lastError = outcome.error;
      emit({ type: 'error', model: t.model, message: outcome.error });
    }
    outcomes.push(outcome);
  }
  const deactivated = await deactivateRemoved(o.dir, o.environment, state, new Set(targets.map((t) => t.model)), emit);
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
  return {
    models: outcomes,
    deactivated,
    changed: deactivated.length > 0 || outcomes.some((m) => m.changed),
    bytesFetched,
    bytesReused,
    requests,
    retries,
  };
}
