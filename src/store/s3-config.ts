// Where an s3:// URL points and how an S3Client is configured from it and the environment: the one
// place for endpoint, region, path-style and credential handling, shared by the store (S3Store) and
// the device's S3 BlobSource. Type-only SDK import, so a caller may load the SDK lazily.
import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { UserError } from '../lib/errors.ts';
import { validateKey } from './keys.ts';

export interface S3ClientOptions {
  /** Overrides for the client (tests pass wrong credentials or an unreachable endpoint here). */
  endpoint?: string;
  region?: string;
  credentials?: S3ClientConfig['credentials'];
  /** Timeouts; default: connect 10 s, request 300 s (multipart parts of a push). */
  requestHandler?: { connectionTimeout?: number; requestTimeout?: number };
}

export interface S3Location {
  bucket: string;
  prefix: string;
}

/** s3://bucket[/prefix] → bucket and a prefix that is empty or ends with '/'. */
export function parseS3Url(url: string): S3Location {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (!m || !m[1]) throw new UserError(`invalid S3 store URL "${url}": expected s3://bucket or s3://bucket/prefix`);
  const bucket = m[1];
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new UserError(
      `invalid S3 bucket name "${bucket}" in "${url}": 3-63 lowercase letters, digits, dots, hyphens`,
    );
  }
  let prefix = m[2] ?? '';
  if (prefix.endsWith('/')) prefix = prefix.slice(0, -1);
  if (prefix) validateKey(prefix, 'prefix');
  return { bucket, prefix: prefix ? `${prefix}/` : '' };
}

/**
 * Client settings from the standard AWS environment and config files. An explicit endpoint
 * (AWS_ENDPOINT_URL_S3, then AWS_ENDPOINT_URL) means an S3-compatible server: path-style URLs
 * and us-east-1 unless a region is set. Checksums only WHEN_REQUIRED: radosgw rejects the SDK's
 * default streaming checksum trailers (411), and our integrity check is the sha256 metadata.
 */
export function s3ClientConfig(options: S3ClientOptions = {}, env: NodeJS.ProcessEnv = process.env): S3ClientConfig {
  const endpoint = options.endpoint ?? (env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined);
  const region = options.region ?? (env.AWS_REGION || env.AWS_DEFAULT_REGION || (endpoint ? 'us-east-1' : undefined));
  const config: S3ClientConfig = {
    maxAttempts: 1, // callers retry with their own policy (the store's withRetry, the device's fetch.ts)
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: options.requestHandler ?? { connectionTimeout: 10_000, requestTimeout: 300_000 },
  };
  if (endpoint) {
    config.endpoint = endpoint;
    config.forcePathStyle = true;
  }
  if (region) config.region = region;
  if (options.credentials) config.credentials = options.credentials;
  return config;
}
