// The device's folder: verified blobs, the state file, the lock, and atomic file writes.
//   <dir>/state.json                 last accepted manifest (sequence, sha256, ETag), active versions
//   <dir>/manifest.json              the accepted manifest's bytes
//   <dir>/blobs/sha256/<hex>         verified file bytes, read-only, content-addressed
//   <dir>/indexes/sha256/<hex>.json  tensor ranges of that blob, each proven by hashing the local bytes
//   <dir>/staging/<hex>.partial      downloads in progress (+ .json: the validator for resuming)
//   <dir>/models/<m>/versions/<v>/   a materialized version (hardlinks into blobs/)
//   <dir>/models/<m>/versions/<v>/base  for an adapter: symlink -> ../../../<base>/versions/<bv> (adapters.ts)
//   <dir>/models/<m>/meta/<v>.json   the files of that version (for GC and status)
//   <dir>/models/<m>/current         symlink -> versions/<v>, switched by rename
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, readlink, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createFileExclusive, writeFileAtomic } from '../lib/fs-atomic.ts';
import { UserError } from '../lib/errors.ts';

export interface ModelState {
  active?: string;
  history: string[];
  lastError?: string;
  /** Set when the model left the environment and was deactivated: when, and from which environment. */
  removed?: { at: string; environment: string };
}
/** `etag` is the validator of the manifest at `location` (source + key), for conditional polls. */
export interface AcceptedManifest {
  sequence: number;
  sha256: string;
  expiresAt: string;
  etag?: string;
  location?: string;
  acceptedAt?: string;
}
export interface SyncState {
  schema: 1;
  environment?: string;
  manifest?: AcceptedManifest;
  models: Record<string, ModelState>;
}

export const paths = (dir: string) => ({
  root: dir,
  state: join(dir, 'state.json'),
  manifest: join(dir, 'manifest.json'),
  deviceKey: join(dir, 'device-key'),
  lock: join(dir, 'lock'),
  blobs: join(dir, 'blobs', 'sha256'),
  blob: (sha: string) => join(dir, 'blobs', 'sha256', sha),
  indexes: join(dir, 'indexes', 'sha256'),
  index: (sha: string) => join(dir, 'indexes', 'sha256', `${sha}.json`),
  staging: join(dir, 'staging'),
  partial: (sha: string) => join(dir, 'staging', `${sha}.partial`),
  models: join(dir, 'models'),
  model: (m: string) => join(dir, 'models', m),
  versions: (m: string) => join(dir, 'models', m, 'versions'),
  version: (m: string, v: string) => join(dir, 'models', m, 'versions', v),
  meta: (m: string, v: string) => join(dir, 'models', m, 'meta', `${v}.json`),
  current: (m: string) => join(dir, 'models', m, 'current'),
});

// Atomic writes are src/lib/fs-atomic.ts's; re-exported for code that imported them from here.
export { fsyncDir, writeFileAtomic } from '../lib/fs-atomic.ts';

export function emptyState(): SyncState {
  return { schema: 1, models: {} };
}

function isState(v: unknown): v is SyncState {
  const s = v as SyncState;
  if (!s || typeof s !== 'object' || s.schema !== 1 || !s.models || typeof s.models !== 'object') return false;
  if (
    s.manifest !== undefined &&
    (!Number.isSafeInteger(s.manifest.sequence) ||
      typeof s.manifest.sha256 !== 'string' ||
      typeof s.manifest.expiresAt !== 'string')
  )
    return false;
  return Object.values(s.models).every(
    (m) => m && Array.isArray(m.history) && m.history.every((h) => typeof h === 'string'),
  );
}

/**
 * Reads state.json. Missing or corrupt state is not fatal: it is rebuilt from what is on disk (the
 * `current` links and the accepted manifest.json), and without an ETag, so the next poll re-fetches.
 */
export async function readState(dir: string): Promise<{ state: SyncState; warning?: string }> {
  const p = paths(dir);
  let text: string | undefined;
  try {
    text = await readFile(p.state, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new UserError(`cannot read ${p.state}: ${(e as Error).message}`);
  }
  if (text !== undefined) {
    try {
      const s = JSON.parse(text) as unknown;
      if (isState(s)) return { state: s };
    } catch {
      /* rebuilt below */
    }
  }
  const state = await rebuildState(dir);
  return text === undefined
    ? { state }
    : {
        state,
        warning: `${p.state} was unreadable; rebuilt from the files on disk (the manifest will be fetched again)`,
      };
}

async function rebuildState(dir: string): Promise<SyncState> {
  const state = emptyState();
  for (const m of await listDir(paths(dir).models)) {
    const active = await activeVersion(dir, m);
    state.models[m] = { ...(active ? { active } : {}), history: active ? [active] : [] };
  }
  return state;
}

export async function writeState(dir: string, state: SyncState): Promise<void> {
  await writeFileAtomic(paths(dir).state, `${JSON.stringify(state, null, 2)}\n`);
}

export async function listDir(path: string): Promise<string[]> {
  try {
    return (await readdir(path)).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

/** The version `current` points at, or undefined. The link, not state.json, is the truth. */
export async function activeVersion(dir: string, model: string): Promise<string | undefined> {
  try {
    const target = await readlink(paths(dir).current(model));
    const m = /^versions\/([^/]+)$/.exec(target);
    return m?.[1];
  } catch {
    return undefined;
  }
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** A stable random key for this device, created once, for canary routing when none is given. */
export async function deviceKeyOf(dir: string): Promise<string> {
  const p = paths(dir).deviceKey;
  try {
    const k = (await readFile(p, 'utf8')).trim();
    if (k) return k;
  } catch {
    /* created below */
  }
  const key = randomBytes(16).toString('hex');
  await writeFileAtomic(p, `${key}\n`);
  return key;
}

const held = new Map<string, number>();

/**
 * One sync per folder at a time. The lock holds the owner's pid; a lock whose process is gone (a
 * crash) is taken over. Re-entrant within one process.
 */
export async function lock(dir: string): Promise<() => Promise<void>> {
  const p = paths(dir).lock;
  const release = async () => {
    const n = (held.get(p) ?? 1) - 1;
    if (n > 0) {
      held.set(p, n);
      return;
    }
    held.delete(p);
    await rm(p, { force: true });
  };
  if (held.has(p)) {
    held.set(p, held.get(p)! + 1);
    return release;
  }
  for (let tries = 0; tries < 3; tries++) {
    // Exclusive and complete at once: a competitor never reads a half-written (empty) pid as stale.
    if (await createFileExclusive(p, String(process.pid))) {
      held.set(p, 1);
      return release;
    }
    const pid = Number((await readFile(p, 'utf8').catch(() => '')).trim());
    if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
      throw new UserError(`${dir} is being synced by process ${pid} (lock ${p})`);
    }
    await rm(p, { force: true }); // stale: its owner died
  }
  throw new UserError(`could not take the lock ${p}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Rename first, then delete: a crash mid-delete leaves a .trash-* folder, never half a version. */
export async function trash(path: string): Promise<void> {
  const t = join(dirname(path), `.trash-${randomBytes(4).toString('hex')}`);
  await rename(path, t);
  await rm(t, { recursive: true, force: true });
}

export async function ensureDirs(dir: string): Promise<void> {
  const p = paths(dir);
  for (const d of [p.blobs, p.indexes, p.staging, p.models]) await mkdir(d, { recursive: true });
}
