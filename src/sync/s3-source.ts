// BlobSource over S3 (or any S3-compatible store): GetObject with Range and If-Match for resume,
// If-None-Match for cheap polls. The URL and the client settings (endpoint, region, path-style,
// credentials) come from the store's src/store/s3-config.ts, the one place for them; this adds only
// the device's read semantics, its idle timeout, and the SDK loaded lazily so the CLI starts fast
// when no s3:// URL is used. Endpoint: MG_S3_ENDPOINT (device-only), else the store's
// AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL; region: AWS_REGION / AWS_DEFAULT_REGION, else us-east-1.
import type { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { parseS3Url, s3ClientConfig } from '../store/s3-config.ts';
import { SYNC_DEFAULTS } from './defaults.ts';
import { PermanentSourceError, TransientError } from './errors.ts';
import {
  type BlobSource,
  type ConditionalResult,
  type GetOptions,
  type GetResult,
  type ObjectMeta,
  parseContentRange,
  rangeHeader,
  readAll,
} from './source.ts';
import { NotFoundError } from '../lib/errors.ts';

export interface S3SourceOptions {
  bucket: string;
  prefix?: string;
  endpoint?: string;
  region?: string;
  idleTimeoutMs?: number;
}

type Sdk = typeof import('@aws-sdk/client-s3');

export class S3Source implements BlobSource {
  readonly description: string;
  private readonly options: S3SourceOptions;
  private readonly env: NodeJS.ProcessEnv;
  private client?: Promise<{ sdk: Sdk; client: S3Client }>;

  constructor(options: S3SourceOptions, env: NodeJS.ProcessEnv = process.env) {
    this.options = { ...options, prefix: (options.prefix ?? '').replace(/^\/+/, '') };
    this.env = env;
    this.description = `s3://${options.bucket}/${this.options.prefix}`;
  }

  /** `s3://bucket/prefix/` with settings from the environment. */
  static fromUrl(url: string, env: NodeJS.ProcessEnv = process.env): S3Source {
    const { bucket, prefix } = parseS3Url(url);
    const endpoint = env.MG_S3_ENDPOINT || undefined; // the rest of the environment: s3ClientConfig
    return new S3Source({ bucket, prefix, ...(endpoint ? { endpoint } : {}) }, env);
  }

  private sdk(): Promise<{ sdk: Sdk; client: S3Client }> {
    this.client ??= import('@aws-sdk/client-s3').then((sdk) => {
      const config = s3ClientConfig(
        {
          ...(this.options.endpoint ? { endpoint: this.options.endpoint } : {}),
          ...(this.options.region ? { region: this.options.region } : {}),
          requestHandler: { requestTimeout: this.options.idleTimeoutMs ?? SYNC_DEFAULTS.idleTimeoutMs }, // fetch.ts retries
        },
        this.env,
      );
      config.region ??= 'us-east-1'; // a device has no ~/.aws/config to name one
      return { sdk, client: new sdk.S3Client(config) };
    });
    return this.client;
  }

  private key(key: string): string {
    return `${this.options.prefix ?? ''}${key}`;
  }

  async get(key: string, options: GetOptions = {}): Promise<GetResult> {
    const { sdk, client } = await this.sdk();
    try {
      const r = await client.send(
        new sdk.GetObjectCommand({
          Bucket: this.options.bucket,
          Key: this.key(key),
          ...(options.range ? { Range: rangeHeader(options.range) } : {}),
          // S3 has no If-Range; If-Match turns "the object changed" into a 412 we can see.
          ...(options.range && options.ifRange ? { IfMatch: options.ifRange } : {}),
        }),
        options.signal ? { abortSignal: options.signal } : {},
      );
      const contentRange = parseContentRange(r.ContentRange);
      const status = contentRange ? 206 : 200;
      const size = contentRange?.total ?? (status === 200 ? r.ContentLength : undefined);
      return {
        status,
        ...(r.ETag ? { etag: r.ETag } : {}),
        ...(size !== undefined ? { size } : {}),
        ...(contentRange ? { contentRange } : {}),
        ...(r.ContentLength !== undefined ? { contentLength: r.ContentLength } : {}),
        body: r.Body as Readable,
      };
    } catch (e) {
      throw this.failure(e, key);
    }
  }

  async head(key: string, options: { signal?: AbortSignal } = {}): Promise<ObjectMeta> {
    const { sdk, client } = await this.sdk();
    try {
      const r = await client.send(
        new sdk.HeadObjectCommand({ Bucket: this.options.bucket, Key: this.key(key) }),
        options.signal ? { abortSignal: options.signal } : {},
      );
      return {
        ...(r.ETag ? { etag: r.ETag } : {}),
        ...(r.ContentLength !== undefined ? { size: r.ContentLength } : {}),
      };
    } catch (e) {
      throw this.failure(e, key);
    }
  }

  async getConditional(
    key: string,
    etag: string | undefined,
    options: { signal?: AbortSignal; maxBytes?: number } = {},
  ): Promise<ConditionalResult> {
    const { sdk, client } = await this.sdk();
    try {
      const r = await client.send(
        new sdk.GetObjectCommand({
          Bucket: this.options.bucket,
          Key: this.key(key),
          ...(etag ? { IfNoneMatch: etag } : {}),
        }),
        options.signal ? { abortSignal: options.signal } : {},
      );
      const bytes = await readAll(
        r.Body as Readable,
        options.maxBytes ?? SYNC_DEFAULTS.maxConditionalBytes,
        `${this.description}${key}`,
      );
      return r.ETag ? { notModified: false, etag: r.ETag, bytes } : { notModified: false, bytes };
    } catch (e) {
      // The SDK reports a 304 as an error.
      if (statusOf(e) === 304) return etag ? { notModified: true, etag } : { notModified: true };
      throw this.failure(e, key);
    }
  }

  close(): void {
    void this.client?.then(({ client }) => client.destroy());
  }

  private failure(e: unknown, key: string): Error {
    const status = statusOf(e);
    const where = `${this.description}${key}`;
    if (status === 404 || (e as Error)?.name === 'NoSuchKey') return new NotFoundError(this.description, key);
    if (status === 412) return new TransientError('changed', `object changed while reading ${where}`, { status });
    if (status !== undefined && (status >= 500 || status === 429 || status === 408))
      return new TransientError('status', `S3 ${status} for ${where}`, { status });
    if (status !== undefined && status >= 400)
      return new PermanentSourceError(`S3 ${status} (${(e as Error).name}) for ${where}`);
    if ((e as Error)?.name === 'AbortError') return e as Error;
    return new TransientError('connection', `${(e as Error)?.message ?? String(e)} (${where})`, { cause: e });
  }
}

function statusOf(e: unknown): number | undefined {
  return (e as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}
