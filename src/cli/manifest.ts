// `model-gitops manifest verify`: fetch the manifest through the TUF client from a pinned root, as a
// device would, and say what it holds. Exit 1 on any verification failure (with the reason), 3 when
// the source cannot be reached, 2 on usage errors.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { UserError } from '../lib/errors.ts';
import type { Manifest } from '../manifest/manifest.ts';
import { describeDeployment } from '../publish/diff.ts';
import { fetchVerifiedManifest, TrustVerificationError, type TrustSource } from '../trust/client.ts';
import { environmentTarget, MANIFEST_TARGET } from '../trust/repository.ts';
import { openTrustStore } from '../trust/store-io.ts';
import { EXIT } from '../lib/exit-codes.ts';
import { type Command, parseCommandArgs, subcommands } from './command.ts';
import { printJson, table } from './output.ts';

const usage =
  'model-gitops manifest verify <store-url-or-folder> --trust trust/root.json [--environment ENV] [--state-dir DIR] [--json]';

/** An http(s) base URL or folder path as is; s3:// through the store adapter. */
export function trustSourceOf(location: string): TrustSource {
  if (/^s3:\/\//i.test(location)) return openTrustStore(location);
  if (/^https?:\/\//i.test(location)) return location;
  return resolve(location.startsWith('file://') ? new URL(location).pathname : location);
}

export async function readTrustRoot(path: string): Promise<Buffer> {
  try {
    return await readFile(resolve(path));
  } catch (e) {
    throw new UserError(`cannot read the trusted root ${path}: ${(e as Error).message}`);
  }
}

async function verify(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    argv,
    {
      trust: { type: 'string' },
      environment: { type: 'string' },
      'state-dir': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    usage,
    true,
  );
  if (values.help) {
    console.log(`usage: ${usage}`);
    return EXIT.ok;
  }
  if (positionals.length !== 1) throw new UserError(`give exactly one store URL or folder\nusage: ${usage}`);
  if (!values.trust)
    throw new UserError(`--trust is required (the pinned root, e.g. trust/root.json)\nusage: ${usage}`);
  const location = positionals[0]!;
  const trustedRoot = await readTrustRoot(values.trust);
  const target = values.environment ? environmentTarget(values.environment) : MANIFEST_TARGET;
  // Without --state-dir the check starts from the pinned root alone (no rollback floor from earlier runs).
  const stateDir = values['state-dir'] ? resolve(values['state-dir']) : await mkdtemp(join(tmpdir(), 'mg-verify-'));
  try {
    let v;
    try {
      v = await fetchVerifiedManifest({ trustedRoot, stateDir, source: trustSourceOf(location), target });
    } catch (e) {
      if (!(e instanceof TrustVerificationError)) throw e;
      const exitCode = e.exitCode;
      if (values.json) printJson({ ok: false, reason: e.code, message: e.message, exitCode });
      else console.error(`model-gitops manifest verify: verification failed (${e.code}): ${e.message}`);
      return exitCode;
    }
    const m = v.manifest as Manifest;
    if (!m || typeof m !== 'object' || !Number.isSafeInteger(m.sequence) || !m.environments || !m.models || !m.source) {
      const message = `${target} is signed but is not a model-gitops manifest (no sequence, source, environments or models)`;
      if (values.json) printJson({ ok: false, reason: 'invalid', message, exitCode: EXIT.verification });
      else console.error(`model-gitops manifest verify: verification failed (invalid): ${message}`);
      return EXIT.verification;
    }
    const environments = Object.fromEntries(
      Object.entries(m.environments).map(([env, e]) => [
        env,
        Object.fromEntries(Object.entries(e.models).map(([model, d]) => [model, describeDeployment(d)])),
      ]),
    );
    const out = {
      ok: true,
      target,
      sequence: m.sequence,
      publishedAt: m.publishedAt,
      source: m.source,
      sha256: v.sha256,
      length: v.length,
      expires: v.expires,
      manifestExpiresAt: m.expiresAt,
      trust: {
        rootVersion: v.rootVersion,
        targetsVersion: v.targetsVersion,
        snapshotVersion: v.snapshotVersion,
        timestampVersion: v.timestampVersion,
      },
      environments,
    };
    if (values.json) {
      printJson(out);
      return EXIT.ok;
    }
    console.log(`verified ${target} from ${location}`);
    console.log(`sequence ${m.sequence}, published ${m.publishedAt} from ${m.source.repository}@${m.source.commit}`);
    console.log(
      `signature valid until ${v.expires} (root v${v.rootVersion}, targets v${v.targetsVersion}, snapshot v${v.snapshotVersion}, timestamp v${v.timestampVersion}); sha256 ${v.sha256}`,
    );
    const rows = [['ENVIRONMENT', 'MODEL', 'DEPLOYMENT']];
    for (const [env, models] of Object.entries(environments))
      for (const [model, d] of Object.entries(models)) rows.push([env, model, d]);
    console.log(table(rows));
    return EXIT.ok;
  } finally {
    if (!values['state-dir']) await rm(stateDir, { recursive: true, force: true });
  }
}

export const manifestCommand: Command = subcommands('manifest', usage, { verify });
