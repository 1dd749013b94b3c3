// One poll-and-sync round as a device runs it: poll the manifest (cheap when unchanged), persist an
// accepted manifest before acting on it, then bring the environment's models in line with it.
import { readFile } from 'node:fs/promises';
import type { Manifest } from '../manifest/manifest.ts';
import { UserError } from '../lib/errors.ts';
import { syncEnvironment, type SyncOptions, type SyncResult } from './engine.ts';
import { writeFileAtomic } from '../lib/fs-atomic.ts';
import { type AcceptedManifest, ensureDirs, lock, paths, readState, writeState } from './local-store.ts';
import type { ManifestProvider } from './manifest-provider.ts';
import { sha256Hex } from '../lib/hash.ts';

/** The accepted manifest kept in <dir>, if its bytes still match what state.json recorded. */
export async function loadAccepted(
  dir: string,
): Promise<{ accepted: AcceptedManifest; manifest: Manifest } | undefined> {
  const { state } = await readState(dir);
  if (!state.manifest) return undefined;
  try {
    const bytes = await readFile(paths(dir).manifest);
    if (sha256Hex(bytes) !== state.manifest.sha256) return undefined;
    return { accepted: state.manifest, manifest: JSON.parse(bytes.toString('utf8')) as Manifest };
  } catch {
    return undefined;
  }
}

/**
 * What a SourceManifestProvider should start from. When the kept manifest bytes are lost or damaged,
 * the sequence floor stays (rollback protection) but the ETag and sha256 go, so the next poll
 * re-fetches the body instead of getting a 304 for bytes this device no longer has.
 */
export async function acceptedForProvider(dir: string): Promise<AcceptedManifest | undefined> {
  const local = await loadAccepted(dir);
  if (local) return local.accepted;
  const { state } = await readState(dir);
  return state.manifest
    ? { sequence: state.manifest.sequence, sha256: '', expiresAt: state.manifest.expiresAt }
    : undefined;
}

export interface PollAndSyncResult extends SyncResult {
  manifestChanged: boolean;
  sequence: number;
  expiresAt: string;
}

export async function pollAndSync(
  o: Omit<SyncOptions, 'manifest'> & { provider: ManifestProvider },
): Promise<PollAndSyncResult> {
  await ensureDirs(o.dir);
  const release = await lock(o.dir);
  try {
    const r = await o.provider.poll(o.signal);
    let manifest: Manifest;
    if (r.changed) {
      await writeFileAtomic(paths(o.dir).manifest, r.bytes);
      const { state } = await readState(o.dir);
      const accepted = o.provider.accepted?.() ?? {
        sequence: r.manifest.sequence,
        sha256: sha256Hex(r.bytes),
        expiresAt: r.manifest.expiresAt,
      };
      state.manifest = accepted;
      await writeState(o.dir, state);
      manifest = r.manifest;
    } else {
      const local = await loadAccepted(o.dir);
      if (!local)
        throw new UserError(
          `the manifest is unchanged at the source but ${paths(o.dir).manifest} is missing or damaged; run again to re-fetch`,
        );
      manifest = local.manifest;
      // Keep a refreshed validator (same content, new ETag) for the next poll.
      const accepted = o.provider.accepted?.();
      if (accepted && (accepted.etag !== local.accepted.etag || accepted.location !== local.accepted.location)) {
        const { state } = await readState(o.dir);
        state.manifest = accepted;
        await writeState(o.dir, state);
      }
    }
    const result = await syncEnvironment({ ...o, manifest });
    return { ...result, manifestChanged: r.changed, sequence: manifest.sequence, expiresAt: manifest.expiresAt };
  } finally {
    await release();
  }
}
