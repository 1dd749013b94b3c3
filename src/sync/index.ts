// Edge sync: follow a manifest with the fewest bytes, never run unverified weights, never lose the
// last good version. See engine.ts for the flow and local-store.ts for the on-disk layout.
export {
  syncEnvironment,
  fetchVersion,
  pruneVersions,
  type CacheOptions,
  type FetchVersionOptions,
  type SyncEvent,
  type SyncOptions,
  type SyncResult,
  type ModelOutcome,
} from './engine.ts';
export { pollAndSync, loadAccepted, acceptedForProvider, type PollAndSyncResult } from './client.ts';
export {
  SourceManifestProvider,
  type ManifestProvider,
  type ManifestVerifier,
  type PollResult,
  type SourceManifestProviderOptions,
} from './manifest-provider.ts';
export type { BlobSource, GetOptions, GetResult, ObjectMeta, ConditionalResult } from './source.ts';
export { HttpSource, type HttpSourceOptions } from './http-source.ts';
export { FolderSource } from './folder-source.ts';
export { S3Source, type S3SourceOptions } from './s3-source.ts';
export { locateManifest } from './locate.ts';
export { canaryBucket, pickVersion, BUCKETS } from './device-routing.ts';
export { checkIndex, validIndex, type DeviceIndex, type SafetensorsIndex } from './index-check.ts';
export { planDelta, type DeltaPlan } from './delta.ts';
export { DEFAULT_RETRY, type RetryPolicy } from './fetch.ts';
export { SYNC_DEFAULTS } from './defaults.ts';
export { readState, activeVersion, paths as localPaths, type SyncState, type AcceptedManifest } from './local-store.ts';
export { VerificationError, NetworkError, DiskSpaceError } from './errors.ts';
// TufManifestProvider is imported from tuf-provider.ts where it is used: importing this file must not load the trust client.
export type { TrustedSyncOptions } from './tuf-provider.ts';
