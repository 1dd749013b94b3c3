// What the sync engine is given and what it reports: its options, its events and its results.
import type { Manifest, ManifestFile } from '../manifest/manifest.ts';
import type { RetryPolicy } from './fetch.ts';
import type { BlobSource } from './source.ts';

export type SyncEvent =
  | {
      type: 'plan';
      model: string;
      from?: string;
      to: string;
      role: 'champion' | 'canary';
      files: number;
      bytesToFetch: number;
    }
  | {
      type: 'file';
      model: string;
      path: string;
      sha256: string;
      how: 'cached' | 'delta' | 'download';
      bytesFetched: number;
      bytesReused: number;
    }
  | { type: 'progress'; bytesFetched: number; bytesPlanned: number }
  | { type: 'retry'; what: string; attempt: number; error: string; delayMs: number }
  | { type: 'fallback'; model: string; path: string; reason: string }
  | { type: 'activated'; model: string; version: string; previous?: string }
  | { type: 'rolled-back'; model: string; version: string; restored?: string; error: string }
  /** An adapter's `base` link now points at this base version (see adapters.ts). */
  | { type: 'base-linked'; model: string; version: string; base: string; baseVersion: string }
  /** The model left the environment: `current` removed, its versions kept for --keep and gc. */
  | { type: 'deactivated'; model: string; version: string; reason: string }
  | { type: 'gc'; versionsRemoved: string[]; blobsRemoved: number; bytesFreed: number }
  | { type: 'warning'; message: string }
  | { type: 'error'; model: string; message: string };

/** Where the cache is and where bytes come from: what fetching into the cache needs. Defaults: SYNC_DEFAULTS. */
export interface CacheOptions {
  dir: string;
  source: BlobSource;
  onEvent?: (e: SyncEvent) => void;
  signal?: AbortSignal;
  retry?: RetryPolicy;
  /** Remote ranges closer than this are fetched as one. */
  coalesceGap?: number;
  /** Free space to leave on the disk after the download. */
  diskReserve?: number;
  /** Largest index object accepted. */
  maxIndexBytes?: number;
}

export interface SyncOptions extends CacheOptions {
  manifest: Manifest;
  environment: string;
  /** Stable key for canary routing; defaults to a random key kept in <dir>/device-key. */
  deviceKey?: string;
  /** Opt in to canaries. */
  canary?: boolean;
  /** Versions kept per model, the active one included (the default, 2, allows an instant local rollback). */
  keepVersions?: number;
  /** Load the new version; a throw rolls `current` back to the previous version. */
  loadHook?: (model: string, version: string, folder: string) => void | Promise<void>;
}

/** What fetchVersion needs: where the cache is and where bytes come from, no environment or activation. */
export type FetchVersionOptions = CacheOptions & {
  model: string;
  version: string;
  files: ManifestFile[];
};

export interface ModelOutcome {
  model: string;
  version: string;
  role: 'champion' | 'canary';
  previous?: string;
  changed: boolean;
  error?: string;
  /** For an adapter: the base it is linked to on this device, as model@version. */
  base?: string;
}
export interface SyncResult {
  models: ModelOutcome[];
  /** Models this sync deactivated because they left the environment. */
  deactivated: { model: string; version: string }[];
  changed: boolean;
  bytesFetched: number;
  bytesReused: number;
  requests: number;
  retries: number;
}
