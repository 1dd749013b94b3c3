// Garbage collection of the cache: version folders no longer kept, then the blobs and indexes no kept
// version uses, and staging files nothing wants. syncEnvironment keeps the most recent versions per
// model; a gateway (pruneVersions) keeps what its current and previous manifests reference.
import { readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ManifestFile } from '../manifest/manifest.ts';
import { crashPoint } from './crash.ts';
import { SYNC_DEFAULTS } from './defaults.ts';
import { activeVersion, ensureDirs, exists, listDir, lock, paths, type SyncState, trash } from './local-store.ts';
import { pinnedBases } from './adapters.ts';
import type { Target } from './targets.ts';
import type { SyncEvent, SyncOptions } from './types.ts';

/**
 * Deletes from the cache every version not in `keep`, and the blobs no kept version uses: for a gateway,
 * which keeps what its current and previous manifests reference. A kept version's files count whether
 * or not its folder exists yet, so a fetch that failed halfway keeps its blobs and resumable partials.
 */
export async function pruneVersions(
  o: Pick<SyncOptions, 'dir' | 'onEvent'> & { keep: { model: string; version: string; files: ManifestFile[] }[] },
): Promise<void> {
  await ensureDirs(o.dir);
  const release = await lock(o.dir);
  try {
    const keep = new Map<string, Set<string>>();
    const referenced = new Set<string>();
    for (const k of o.keep) {
      (keep.get(k.model) ?? keep.set(k.model, new Set()).get(k.model)!).add(k.version);
      for (const f of k.files) referenced.add(f.sha256);
    }
    await sweepCache(
      paths(o.dir),
      async (model, versions) => new Set(versions.filter((v) => keep.get(model)?.has(v))),
      referenced,
      o.onEvent ?? (() => {}),
    );
  } finally {
    await release();
  }
}

/**
 * After a sync: keeps, per model, the active version and the most recent others up to keepVersions (by
 * activation history, then folder age); then deletes blobs no kept version or target uses and stale
 * staging files.
 */
export async function collectGarbage(
  o: Pick<SyncOptions, 'dir' | 'keepVersions'>,
  state: SyncState,
  targets: Target[],
  emit: (e: SyncEvent) => void,
): Promise<void> {
  const p = paths(o.dir);
  const keepN = Math.max(1, o.keepVersions ?? SYNC_DEFAULTS.keepVersions);
  const referenced = new Set<string>();
  for (const t of targets) for (const f of t.files) referenced.add(f.sha256); // this sync's targets, even if not yet active
  await sweepCache(
    p,
    async (model, versions) => {
      const active = await activeVersion(o.dir, model);
      const history = state.models[model]?.history ?? [];
      const ages = new Map<string, number>();
      for (const v of versions)
        ages.set(v, (await stat(join(p.versions(model), v)).catch(() => undefined))?.mtimeMs ?? 0);
      const order = [
        ...new Set([
          ...(active ? [active] : []),
          ...history.filter((v) => ages.has(v)),
          ...[...versions].sort((a, b) => ages.get(b)! - ages.get(a)!),
        ]),
      ];
      return new Set(order.slice(0, keepN));
    },
    referenced,
    emit,
  );
}

/**
 * Deletes every version folder `keepOf` does not keep, then the blobs and indexes neither a kept
 * version nor `referenced` uses, and staging files nothing wants. A kept version whose file list
 * cannot be read keeps every blob (better a full disk than a deleted weight).
 */
async function sweepCache(
  p: ReturnType<typeof paths>,
  keepOf: (model: string, versions: string[]) => Promise<Set<string>>,
  referenced: Set<string>,
  emit: (e: SyncEvent) => void,
): Promise<void> {
  const removed: string[] = [];
  let blobGcSafe = true;
  // What each model keeps, decided for all models first: a base version that a kept adapter version links
  // to is kept too, whatever its own model's order says (see adapters.ts).
  const listed = new Map<string, string[]>();
  const kept = new Map<string, Set<string>>();
  for (const model of await listDir(p.models)) {
    const versionsDir = p.versions(model);
    const entries = await listDir(versionsDir);
    for (const e of entries.filter((e) => e.startsWith('.')))
      await rm(join(versionsDir, e), { recursive: true, force: true }); // temp/trash left by a crash
    const versions = entries.filter((e) => !e.startsWith('.'));
    listed.set(model, versions);
    kept.set(model, await keepOf(model, versions));
  }
  for (const [model, pinned] of await pinnedBases(p.root, kept))
    for (const v of pinned) if (listed.get(model)?.includes(v)) kept.get(model)?.add(v);
  for (const [model, versions] of listed) {
    const versionsDir = p.versions(model);
    const keep = kept.get(model)!;
    for (const v of versions) {
      if (keep.has(v)) continue;
      await trash(join(versionsDir, v));
      crashPoint('during-gc');
      await rm(p.meta(model, v), { force: true });
      removed.push(`${model}@${v}`);
    }
    for (const v of keep) {
      try {
        const meta = JSON.parse(await readFile(p.meta(model, v), 'utf8')) as { files: ManifestFile[] };
        for (const f of meta.files) referenced.add(f.sha256);
      } catch {
        blobGcSafe = false; // cannot tell what this version uses: keep every blob
      }
    }
  }
  let blobsRemoved = 0;
  let bytesFreed = 0;
  if (blobGcSafe) {
    for (const sha of await listDir(p.blobs)) {
      if (referenced.has(sha)) continue;
      bytesFreed += (await stat(p.blob(sha)).catch(() => ({ size: 0 }))).size;
      await rm(p.blob(sha), { force: true });
      await rm(p.index(sha), { force: true });
      blobsRemoved++;
    }
    for (const name of await listDir(p.indexes))
      if (!referenced.has(name.replace(/\.json$/, ''))) await rm(join(p.indexes, name), { force: true });
  }
  // Partials of files still wanted stay, so an interrupted download resumes.
  for (const name of await listDir(p.staging)) {
    const sha = name.split('.')[0]!;
    if (!referenced.has(sha) || (await exists(p.blob(sha)))) await rm(join(p.staging, name), { force: true });
  }
  if (removed.length || blobsRemoved) emit({ type: 'gc', versionsRemoved: removed, blobsRemoved, bytesFreed });
}
