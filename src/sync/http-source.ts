// BlobSource over HTTP(S) with node:http: keep-alive connections, a bounded number of redirects, and
// a per-request idle timeout (no byte for `idleTimeoutMs`, in the headers or the body, is a stall).
import http from 'node:http';
import https from 'node:https';

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

export interface HttpSourceOptions {
  idleTimeoutMs?: number;
  maxRedirects?: number;
  headers?: Record<string, string>;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export class HttpSource implements BlobSource {
  readonly description: string;
  private readonly base: URL;
  private readonly idleTimeoutMs: number;
  private readonly maxRedirects: number;
  private readonly headers: Record<string, string>;
  private readonly agents = {
    http: new http.Agent({ keepAlive: true, maxSockets: 8 }),
    https: new https.Agent({ keepAlive: true, maxSockets: 8 }),
  };

  constructor(baseUrl: string, options: HttpSourceOptions = {}) {
    // A base without a trailing slash would make `new URL(key, base)` drop its last segment.
    this.base = new URL(baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
    if (this.base.protocol !== 'http:' && this.base.protocol !== 'https:')
      throw new Error(`not an http(s) URL: ${baseUrl}`);
    this.description = this.base.href;
    this.idleTimeoutMs = options.idleTimeoutMs ?? SYNC_DEFAULTS.idleTimeoutMs;
    this.maxRedirects = options.maxRedirects ?? SYNC_DEFAULTS.maxRedirects;
    this.headers = options.headers ?? {};
  }

  url(key: string): URL {
    return new URL(key, this.base);
  }

  async get(key: string, options: GetOptions = {}): Promise<GetResult> {
    const headers: Record<string, string> = {};
    if (options.range) headers.range = rangeHeader(options.range);
    // If-Range needs a strong validator; with a weak one the server must ignore the Range.
    if (options.range && options.ifRange && !options.ifRange.startsWith('W/')) headers['if-range'] = options.ifRange;
    const res = await this.request('GET', key, headers, options.signal);
    const status = res.statusCode ?? 0;
    if (status !== 200 && status !== 206) throw this.failure(res, key);
    const meta = metaOf(res);
    const contentRange = parseContentRange(header(res, 'content-range'));
    const length = header(res, 'content-length');
    return {
      status,
      ...meta,
      ...(status === 206 && contentRange?.total !== undefined ? { size: contentRange.total } : {}),
      ...(contentRange ? { contentRange } : {}),
      ...(length !== undefined ? { contentLength: Number(length) } : {}),
      body: res,
    };
  }

  async head(key: string, options: { signal?: AbortSignal } = {}): Promise<ObjectMeta> {
    const res = await this.request('HEAD', key, {}, options.signal);
    res.resume();
    if (res.statusCode !== 200) throw this.failure(res, key);
    return metaOf(res);
  }

  async getConditional(
    key: string,
    etag: string | undefined,
    options: { signal?: AbortSignal; maxBytes?: number } = {},
  ): Promise<ConditionalResult> {
    const res = await this.request('GET', key, etag ? { 'if-none-match': etag } : {}, options.signal);
    if (res.statusCode === 304) {
      res.resume();
      const e = header(res, 'etag') ?? etag;
      return e === undefined ? { notModified: true } : { notModified: true, etag: e };
    }
    if (res.statusCode !== 200) throw this.failure(res, key);
    const bytes = await readAll(res, options.maxBytes ?? SYNC_DEFAULTS.maxConditionalBytes, this.url(key).href).catch(
      (e: unknown) => {
        throw wrapStreamError(e, key);
      },
    );
    const e = header(res, 'etag');
    return e === undefined ? { notModified: false, bytes } : { notModified: false, etag: e, bytes };
  }

  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  private failure(res: http.IncomingMessage, key: string): Error {
    res.resume();
    const status = res.statusCode ?? 0;
    if (status === 404 || status === 410) return new NotFoundError(this.description, key);
    if (status >= 500 || status === 408 || status === 429)
      return new TransientError('status', `HTTP ${status} for ${this.url(key).href}`, { status });
    return new PermanentSourceError(`HTTP ${status} ${res.statusMessage ?? ''} for ${this.url(key).href}`.trim());
  }

  private async request(
    method: string,
    key: string,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
  ): Promise<http.IncomingMessage> {
    let url = this.url(key);
    for (let hop = 0; ; hop++) {
      const res = await this.once(method, url, headers, signal);
      const status = res.statusCode ?? 0;
      if (!REDIRECTS.has(status)) return res;
      res.resume();
      const location = header(res, 'location');
      if (!location) throw new PermanentSourceError(`HTTP ${status} without Location for ${url.href}`);
      if (hop >= this.maxRedirects)
        throw new PermanentSourceError(`more than ${this.maxRedirects} redirects fetching ${this.url(key).href}`);
      try {
        url = new URL(location, url);
      } catch {
        throw new PermanentSourceError(`HTTP ${status} with an invalid Location (${location}) for ${url.href}`);
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:')
        throw new PermanentSourceError(`redirect to a non-http URL: ${url.href}`);
    }
  }

  private once(
    method: string,
    url: URL,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
  ): Promise<http.IncomingMessage> {
    const lib = url.protocol === 'https:' ? https : http;
    const agent = url.protocol === 'https:' ? this.agents.https : this.agents.http;
    return new Promise((resolve, reject) => {
      let response: http.IncomingMessage | undefined;
      const req = lib.request(
        url,
        {
          method,
          headers: { ...this.headers, ...headers, 'accept-encoding': 'identity' },
          agent,
          ...(signal ? { signal } : {}),
        },
        (res) => {
          response = res;
          resolve(res);
        },
      );
      // Socket inactivity for idleTimeoutMs, while waiting for headers or mid-body, is a stall.
      req.setTimeout(this.idleTimeoutMs, () => {
        const err = new TransientError('stall', `no data for ${this.idleTimeoutMs} ms from ${url.href}`);
        req.destroy(err);
        response?.destroy(err);
      });
      req.on('error', (e) => reject(wrapStreamError(e, url.href)));
      req.end();
    });
  }
}

function header(res: http.IncomingMessage, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function metaOf(res: http.IncomingMessage): ObjectMeta {
  const etag = header(res, 'etag');
  const length = header(res, 'content-length');
  return {
    ...(etag !== undefined ? { etag } : {}),
    ...(length !== undefined && res.statusCode === 200 ? { size: Number(length) } : {}),
  };
}

export function wrapStreamError(e: unknown, what: string): Error {
  if (e instanceof TransientError || (e as Error)?.name === 'AbortError') return e as Error;
  if (e instanceof Error && e.name === 'VerificationError') return e;
  return new TransientError('connection', `${(e as Error)?.message ?? String(e)} (${what})`, { cause: e });
}
