// Why a verification failed: tuf-js errors (several of them flattened into RuntimeError strings) are
// mapped to a TrustVerificationError with a `reason` and a message that names the file and the attack.
import type { Metadata, Root } from '@tufjs/models';
import { DownloadHTTPError, DownloadLengthMismatchError } from 'tuf-js/dist/error.js';
import { UserError } from '../lib/errors.ts';
import { type CappedFetcher, HttpFetcher } from './tuf-fetchers.ts';
import { EXIT } from '../lib/exit-codes.ts';

export type TrustFailure =
  | 'tampered' // content or signature does not match what a trusted key signed / a trusted hash recorded
  | 'unsigned' // not signed by enough keys the trusted root lists for the role (unknown or missing signatures)
  | 'rollback' // older version than the device already trusts
  | 'freeze' // expired metadata
  | 'mix-and-match' // metadata of different publications combined
  | 'endless-data' // larger than allowed
  | 'not-found' // nothing published, wrong URL, or a file missing from the repository
  | 'unavailable' // the source could not be reached or answered with an error
  | 'invalid-root' // the pinned root itself is not valid
  | 'invalid'; // not parseable as TUF metadata / anything else

/**
 * Verification refused the repository's data. `code` says which protection fired; the exit code follows
 * from it: a source that could not be reached is a network failure, anything else a verification failure.
 */
export class TrustVerificationError extends UserError {
  readonly code: TrustFailure;
  constructor(code: TrustFailure, message: string, cause?: unknown) {
    super(message, { exitCode: code === 'unavailable' ? EXIT.network : EXIT.verification, cause });
    this.name = 'TrustVerificationError';
    this.code = code;
  }
}

interface ParsedMeta {
  type: string;
  version: number;
  expires: string;
  signatureKeyIds: string[];
}

function peek(bytes: Buffer | undefined): ParsedMeta | undefined {
  if (!bytes) return undefined;
  try {
    const j = JSON.parse(bytes.toString('utf8')) as {
      signed?: Record<string, unknown>;
      signatures?: Array<{ keyid?: unknown }>;
    };
    const s = j.signed ?? {};
    return {
      type: String(s['_type']),
      version: Number(s['version']),
      expires: String(s['expires']),
      signatureKeyIds: (j.signatures ?? []).map((x) => String(x.keyid)),
    };
  } catch {
    return undefined;
  }
}

function roleOfFile(file: string): { role: string; version: number | undefined } | undefined {
  const m = /(?:^|\/)(?:(\d+)\.)?(root|timestamp|snapshot|targets)\.json$/.exec(file);
  if (!m || !m[2]) return undefined;
  return { role: m[2], version: m[1] === undefined ? undefined : Number(m[1]) };
}

const PARENT: Record<string, string> = {
  timestamp: 'root',
  snapshot: 'timestamp',
  targets: 'snapshot',
  root: 'the previous root',
};

export function explain(
  e: unknown,
  fetcher: CappedFetcher,
  trustedRoot: Metadata<Root> | undefined,
): TrustVerificationError {
  const { last, label: sourceLabel } = fetcher;
  if (e instanceof TrustVerificationError) return e;
  const err = last?.error ?? e;
  const msg = err instanceof Error ? err.message : String(err);
  const outer = e instanceof Error ? e.message : String(e);
  const file = last?.file ?? 'metadata';
  const where = `${file} from ${sourceLabel}`;
  const served = peek(last?.bytes);
  const named = roleOfFile(file);

  if (err instanceof DownloadLengthMismatchError || /Max length reached/.test(msg)) {
    return new TrustVerificationError(
      'endless-data',
      `refused ${where}: it is larger than the ${last?.maxLength ?? '?'} bytes allowed for it (endless-data attack, or a broken server)`,
      e,
    );
  }
  if (err instanceof DownloadHTTPError) {
    if (err.statusCode === 404 || err.statusCode === 403) {
      const hint =
        named?.role === 'timestamp'
          ? ': nothing has been published there yet, or the source is wrong'
          : ': the repository is incomplete';
      const status = fetcher instanceof HttpFetcher ? ` (HTTP ${err.statusCode})` : '';
      return new TrustVerificationError('not-found', `${where} is missing${status}${hint}`, e);
    }
    return new TrustVerificationError('unavailable', `cannot fetch ${where}: HTTP ${err.statusCode}`, e);
  }
  if (last?.error !== undefined) {
    return new TrustVerificationError('unavailable', `cannot fetch ${where}: ${msg}`, e);
  }
  const isRoot = named?.role === 'root';
  if (/is expired/.test(outer)) {
    const role = /(\w+)\.json is expired/.exec(outer)?.[1] ?? named?.role ?? 'metadata';
    const same = role === named?.role;
    const when = same && served ? ` at ${served.expires}` : '';
    return new TrustVerificationError(
      'freeze',
      `refused ${same ? where : `${role}.json from ${sourceLabel}`}: it expired${when} (freeze attack, or the publisher stopped re-signing)`,
      e,
    );
  }
  if (/less than current version/.test(outer)) {
    return new TrustVerificationError(
      'rollback',
      `refused ${where}: it goes back to older metadata than this device already trusts (${innerMessage(outer)}) — rollback attack`,
      e,
    );
  }
  const rootVersion = /Expected version (\d+), got (\d+)/.exec(outer);
  if (isRoot && rootVersion) {
    const [, want, got] = rootVersion;
    return new TrustVerificationError(
      Number(got) < Number(want) ? 'rollback' : 'invalid',
      `refused ${where}: it should be root version ${want} but holds version ${got}`,
      e,
    );
  }
  if (/doesn't match timestamp|does not match snapshot version/.test(outer)) {
    return new TrustVerificationError(
      'mix-and-match',
      `refused ${where}: ${innerMessage(outer)} (mix-and-match attack: metadata from different publications)`,
      e,
    );
  }
  if (/Expected (hash|length)/.test(outer) && named) {
    const parent = PARENT[named.role] ?? 'its parent';
    if (served && served.type === named.role && named.version !== undefined && served.version !== named.version) {
      return new TrustVerificationError(
        'mix-and-match',
        `refused ${where}: ${parent} names ${named.role} version ${named.version} but the repository served version ${served.version} (mix-and-match attack)`,
        e,
      );
    }
    return new TrustVerificationError(
      'tampered',
      `refused ${where}: its bytes do not match the hash and length ${parent} recorded (tampered or corrupted)`,
      e,
    );
  }
  const sig = /(\w+) was signed by (\d+)\/(\d+) keys/.exec(outer);
  if (sig) {
    const [, role = '?', got, need] = sig;
    const trusted = trustedRoot?.signed.roles[role]?.keyIDs ?? [];
    const known = served?.signatureKeyIds.some((id) => trusted.includes(id)) ?? false;
    const what =
      isRoot && named?.version !== undefined
        ? `root version ${named.version} is signed by ${got} of the ${need} keys required (by root version ${named.version - 1} and by itself)`
        : `${role} is signed by ${got} of the ${need} trusted keys required`;
    return known
      ? new TrustVerificationError(
          'tampered',
          `refused ${where}: ${what}; a signature by a trusted key does not match the content (tampered)`,
          e,
        )
      : new TrustVerificationError(
          'unsigned',
          `refused ${where}: ${what}; it carries no valid signature by a key the trusted root lists for ${role} (unknown or missing signatures)`,
          e,
        );
  }
  if (err instanceof SyntaxError || /is not defined|must be|expected '|Failed to parse|JSON/.test(outer)) {
    return new TrustVerificationError(
      'invalid',
      `refused ${where}: it is not valid TUF metadata (${innerMessage(outer)})`,
      e,
    );
  }
  return new TrustVerificationError('invalid', `verification of ${where} failed: ${innerMessage(outer)}`, e);
}

/** tuf-js flattens some errors into "Unable to load X error Error: inner"; keep the inner part. */
function innerMessage(msg: string): string {
  return msg.replace(/^Unable to load [\w ]+? error (?:\w*Error: )?/, '');
}
