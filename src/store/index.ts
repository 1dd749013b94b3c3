// The weight store: public surface.
export * from './types.ts';
export * from './keys.ts';
export { openStore } from './open.ts';
export type { OpenStoreOptions } from './open.ts';
export { S3Store, parseS3Url, s3ClientConfig } from './s3-store.ts';
export type { S3StoreOptions } from './s3-store.ts';
export { FolderStore } from './fs-store.ts';
export { HashCache } from './hash-cache.ts';
export { pushFolder, listModelFiles } from './push.ts';
export type { PushFileResult, PushFolderOptions, PushProgress } from './push.ts';
export { verifyArtifacts } from './verify.ts';
export type { Artifact, ArtifactCheck, ArtifactStatus, VerifyOptions } from './verify.ts';
export { withRetry, isRetryable } from './retry.ts';
