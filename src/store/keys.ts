// The store key layout (DESIGN.md) and the one check every key goes through before it reaches a store.
import { UserError } from '../lib/errors.ts';

/** The current published manifest, whole (also the TUF target name of the whole manifest). */
export const MANIFEST_KEY = 'manifest.json';

/** Key templates of content-addressed objects; published in every manifest so consumers need no copy of this file. */
export const STORE_LAYOUT = { blob: 'blobs/sha256/{sha256}', index: 'indexes/sha256/{sha256}.json' } as const;
const HEX64 = /^[0-9a-f]{64}$/;

export function isSha256Hex(s: string): boolean {
  return HEX64.test(s);
}

function hex(sha256: string): string {
  if (!HEX64.test(sha256)) throw new UserError(`not a sha256 digest (64 lowercase hex characters): "${sha256}"`);
  return sha256;
}

export const blobKey = (sha256: string): string => STORE_LAYOUT.blob.replace('{sha256}', hex(sha256));
export const indexKey = (sha256: string): string => STORE_LAYOUT.index.replace('{sha256}', hex(sha256));
/** `manifests/<sequence>.json`: every published manifest, kept for audit and rollback. */
export const manifestSequenceKey = (sequence: number): string => {
  if (!Number.isSafeInteger(sequence) || sequence < 0)
    throw new UserError(`manifest sequence must be a non-negative integer, got ${sequence}`);
  return `manifests/${sequence}.json`;
};
/** Where benchmark reports live; one JSON per model, version and testbed. */
export const REPORTS_PREFIX = 'reports/';
const REPORT_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;

/** `reports/<model>/<version>/<testbed>.json`; each part one plain path segment. */
export function reportKey(model: string, version: string, testbed: string): string {
  for (const [what, s] of [
    ['model', model],
    ['version', version],
    ['testbed', testbed],
  ] as const) {
    if (!REPORT_SEGMENT.test(s) || s.includes('..'))
      throw new UserError(`report key: ${what} "${s}" is not a safe path segment`);
  }
  return validateKey(`${REPORTS_PREFIX}${model}/${version}/${testbed}.json`);
}
/** `evaluations/<model>/<version>/<environment>/`: continuous-evaluation reports of a deployed version. */
export const evaluationPrefix = (model: string, version: string, environment: string): string =>
  `${validateKey(`evaluations/${model}/${version}/${environment}`)}/`;
/** One evaluation report, named by when it ran (ISO time, ':' and '.' replaced) so a listing sorts by time. */
export const evaluationKey = (model: string, version: string, environment: string, evaluatedAt: string): string =>
  validateKey(`${evaluationPrefix(model, version, environment)}${evaluatedAt.replace(/[:.]/g, '-')}.json`);

/** The sha256 named by an index key, or undefined when `key` is not an index key. */
export function sha256OfIndexKey(key: string): string | undefined {
  const m = /^indexes\/sha256\/([0-9a-f]{64})\.json$/.exec(key);
  return m?.[1];
}

/** The sequence a `manifests/<n>.json` key names, or undefined. */
export function sequenceOfManifestKey(key: string): number | undefined {
  const m = /^manifests\/(0|[1-9]\d*)\.json$/.exec(key);
  return m ? Number(m[1]) : undefined;
}

/** The sha256 named by a blob key, or undefined when `key` is not a blob key. */
export function sha256OfBlobKey(key: string): string | undefined {
  const m = /^blobs\/sha256\/([0-9a-f]{64})$/.exec(key);
  return m?.[1];
}

/**
 * Keys are relative, '/'-separated paths. Refused: empty, absolute, backslashes, control
 * characters, empty / '.' / '..' segments (a folder store maps keys to paths, so any of these
 * could escape its root or alias another key), and a first segment starting with '.tmp'
 * (the folder store's temp area).
 */
export function validateKey(key: string, what = 'key'): string {
  const bad = (why: string): never => {
    throw new UserError(`invalid store ${what} ${JSON.stringify(key)}: ${why}`);
  };
  if (typeof key !== 'string' || key.length === 0) bad('empty');
  if (key.length > 1024) bad('longer than 1024 characters');
  if (key.startsWith('/')) bad('absolute (starts with "/")');
  if (key.includes('\\')) bad('contains a backslash');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(key)) bad('contains a control character');
  const segments = key.split('/');
  for (const [i, seg] of segments.entries()) {
    if (seg === '..') bad('contains a ".." segment');
    if (seg === '.') bad('contains a "." segment');
    if (seg === '' && i !== segments.length - 1) bad('contains an empty segment ("//")');
  }
  if (key.endsWith('/')) bad('ends with "/"');
  if (segments[0]?.startsWith('.tmp')) bad('".tmp" is reserved for temporary files');
  return key;
}

/** A list prefix: like a key, but may be empty or end with '/'. */
export function validatePrefix(prefix: string): string {
  if (prefix === '') return prefix;
  validateKey(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix, 'prefix');
  return prefix;
}
