// Fetchers the TUF updater downloads through: one for a TrustStoreIO (folder, or any store adapter)
// and one for HTTP(S) through global fetch. Both cap every download at the length TUF allows (endless
// data) and remember what they served last, so a failure can be explained (see verification-errors.ts).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Fetcher } from 'tuf-js';
import { DownloadHTTPError, DownloadLengthMismatchError } from 'tuf-js/dist/error.js';
import { FolderTrustStore, type TrustStoreIO, checkStoreKey } from './repository-io.ts';

/** An HTTP(S) base URL of the store root, a local folder path, or any TrustStoreIO. */
export type TrustSource = string | URL | TrustStoreIO;

interface LastFetch {
  url: string;
  file: string;
  maxLength: number;
  bytes?: Buffer;
  error?: unknown;
}

export abstract class CappedFetcher implements Fetcher {
  last: LastFetch | undefined;
  abstract readonly label: string;
  /** Read `url`, throwing DownloadHTTPError(404) when missing and DownloadLengthMismatchError past maxLength. */
  protected abstract read(url: string, maxLength: number): Promise<Buffer>;
  /** The repository-relative name of `url`, for messages. */
  abstract fileOf(url: string): string;

  async downloadBytes(url: string, maxLength: number): Promise<Buffer> {
    const last: LastFetch = { url, file: this.fileOf(url), maxLength };
    this.last = last;
    try {
      last.bytes = await this.read(url, maxLength);
      return last.bytes;
    } catch (e) {
      last.error = e;
      throw e;
    }
  }

  async downloadFile<T>(url: string, maxLength: number, handler: (file: string) => Promise<T>): Promise<T> {
    const bytes = await this.downloadBytes(url, maxLength);
    const dir = await mkdtemp(join(tmpdir(), 'mg-tuf-dl-'));
    try {
      const file = join(dir, 'download');
      await writeFile(file, bytes);
      return await handler(file);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}

function tooLarge(file: string, maxLength: number): DownloadLengthMismatchError {
  return new DownloadLengthMismatchError(`Max length reached: ${file} is larger than ${maxLength} bytes`);
}

const STORE_URL_BASE = 'tuf-store://store/';

function isStoreKey(key: string): boolean {
  try {
    checkStoreKey(key);
    return true;
  } catch {
    return false;
  }
}

class StoreFetcher extends CappedFetcher {
  readonly io: TrustStoreIO;
  readonly label: string;
  constructor(io: TrustStoreIO, label: string) {
    super();
    this.io = io;
    this.label = label;
  }
  fileOf(url: string): string {
    return decodeURIComponent(new URL(url).pathname.replace(/^\/+/, ''));
  }
  protected async read(url: string, maxLength: number): Promise<Buffer> {
    const file = this.fileOf(url);
    // The updater builds names from signed metadata (a delegated role's name), so a name no store can
    // hold is not in the store: a 404, as an HTTP server answers, not a failure to reach the source.
    if (!isStoreKey(file)) throw new DownloadHTTPError(`not found: ${file} cannot be a store key`, 404);
    let bytes: Buffer | undefined;
    try {
      bytes = await this.io.get(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENAMETOOLONG') throw new DownloadHTTPError(`not found: ${file}`, 404);
      throw e;
    }
    if (bytes === undefined) throw new DownloadHTTPError(`not found: ${file}`, 404);
    if (bytes.length > maxLength) throw tooLarge(file, maxLength);
    return bytes;
  }
}

export class HttpFetcher extends CappedFetcher {
  readonly base: string;
  readonly timeoutMs: number;
  readonly label: string;
  constructor(base: string, timeoutMs: number) {
    super();
    this.base = base;
    this.label = base;
    this.timeoutMs = timeoutMs;
  }
  fileOf(url: string): string {
    return url.startsWith(this.base) ? decodeURIComponent(url.slice(this.base.length)) : url;
  }
  protected async read(url: string, maxLength: number): Promise<Buffer> {
    const file = this.fileOf(url);
    const res = await fetch(url, {
      signal: AbortSignal.timeout(this.timeoutMs),
      headers: { 'user-agent': 'model-gitops' },
    });
    if (!res.ok || !res.body) {
      await res.body?.cancel().catch(() => undefined);
      throw new DownloadHTTPError(`HTTP ${res.status} for ${file}`, res.status);
    }
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (declared > maxLength) {
      await res.body.cancel().catch(() => undefined);
      throw tooLarge(file, maxLength);
    }
    const reader = res.body.getReader();
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > maxLength) {
        await reader.cancel().catch(() => undefined);
        throw tooLarge(file, maxLength);
      }
      chunks.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
    }
    return Buffer.concat(chunks, total);
  }
}

export function fetcherFor(
  source: TrustSource,
  timeoutMs: number,
): { fetcher: CappedFetcher; metadataBaseUrl: string; urlOf: (key: string) => string } {
  if (typeof source === 'string' || source instanceof URL) {
    const s = String(source);
    if (/^https?:\/\//i.test(s)) {
      const base = s.endsWith('/') ? s : `${s}/`;
      return { fetcher: new HttpFetcher(base, timeoutMs), metadataBaseUrl: `${base}metadata/`, urlOf: (k) => base + k };
    }
    const path = s.startsWith('file:') ? new URL(s).pathname : s;
    source = new FolderTrustStore(path);
  }
  const label = source instanceof FolderTrustStore ? source.root : 'the trust store';
  return {
    fetcher: new StoreFetcher(source, label),
    metadataBaseUrl: `${STORE_URL_BASE}metadata/`,
    urlOf: (k) => STORE_URL_BASE + k,
  };
}
