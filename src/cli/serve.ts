// `model-gitops serve`: run the HTTP gateway for one environment of a manifest: either the signed one
// in a store (verified through TUF, polled; versions fetched by the sync engine, deltas included) or a
// manifest file verified elsewhere with local version folders. SIGHUP re-reads the manifest and
// hot-swaps; SIGINT/SIGTERM drain and exit.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import manifestSchema from '../../schemas/manifest.schema.json' with { type: 'json' };
import { UserError } from '../lib/errors.ts';
import { FolderVersionSource, GATEWAY_DEFAULTS, createGateway } from '../gateway/index.ts';
import { type HttpLimits, httpLimits } from '../gateway/http.ts';
import { StoreVersionSource } from '../gateway/store-source.ts';
import { storeUrlOrDefault } from '../store/default.ts';
import { readTrustRoot, trustSourceOf } from './manifest.ts';
import { locateStoreRoot } from '../sync/locate.ts';
import type { SyncEvent } from '../sync/engine.ts';
import { fetchVerifiedManifest, TrustVerificationError } from '../trust/client.ts';
import { environmentTarget } from '../trust/repository.ts';
import { type Manifest, manifestEnvironment } from '../manifest/manifest.ts';
import { createAjv } from '../registry/schemas.ts';
import { EXIT } from '../lib/exit-codes.ts';
import { type Command, intOption, numberOption, parseCommandArgs } from './command.ts';
import { printJson } from './output.ts';
import { formatBytes } from '../lib/format.ts';

const usage = `model-gitops serve --environment ENV (--store URL --trust root.json [--cache-dir DIR] [--interval S] | --manifest FILE --models-dir DIR) [--port N] [--host ${GATEWAY_DEFAULTS.host}] [--seed S] [--state FILE] [--max-body-bytes N] [--max-connections N] [--headers-timeout-ms MS] [--body-timeout-ms MS] [--request-timeout-ms MS] [--keep-alive-timeout-ms MS] [--idle-timeout-ms MS] [--threads N] [--gpu] [--python PATH] [--api-key-env NAME] [--drain-timeout-ms MS] [--json]`;

/** What --help adds: each HTTP limit's default (GATEWAY_DEFAULTS says why). */
const limitsHelp = `HTTP limits (defaults): --max-body-bytes ${GATEWAY_DEFAULTS.maxBodyBytes} (413 above), --max-connections ${GATEWAY_DEFAULTS.maxConnections}, --headers-timeout-ms ${GATEWAY_DEFAULTS.headersTimeoutMs}, --body-timeout-ms ${GATEWAY_DEFAULTS.bodyTimeoutMs} (408 after), --request-timeout-ms ${GATEWAY_DEFAULTS.requestTimeoutMs} (headers and body), --keep-alive-timeout-ms ${GATEWAY_DEFAULTS.keepAliveTimeoutMs} (behind a load balancer: above its idle timeout), --idle-timeout-ms ${GATEWAY_DEFAULTS.idleTimeoutMs}; a timeout of 0 disables it`;

/** The environment variable the API key is read from unless --api-key-env names another (never a flag: argv is visible to every user). */
export const API_KEY_ENV = 'MODEL_GITOPS_API_KEY';

/** What --help adds about engines. */
const enginesHelp = `Engines: --threads N sets CPU threads per llama.cpp generation and per PyTorch worker (default: llama.cpp all cores, PyTorch 1); --gpu lets llama.cpp use a GPU it finds and runs PyTorch on cuda; --python PATH is the PyTorch worker's interpreter (default /usr/bin/python3). --drain-timeout-ms MS bounds how long a retired version's open streams may run (default ${GATEWAY_DEFAULTS.drainTimeoutMs}). With $${API_KEY_ENV} (or the variable --api-key-env names) set, /v1/* needs "Authorization: Bearer <key>"`;

/** `serve` flags for HTTP limits, by the HttpLimits key they set. */
const LIMIT_FLAGS = {
  'max-connections': 'maxConnections',
  'headers-timeout-ms': 'headersTimeoutMs',
  'body-timeout-ms': 'bodyTimeoutMs',
  'request-timeout-ms': 'requestTimeoutMs',
  'keep-alive-timeout-ms': 'keepAliveTimeoutMs',
  'idle-timeout-ms': 'idleTimeoutMs',
} as const satisfies Record<string, keyof HttpLimits>;

let validate: ReturnType<ReturnType<typeof createAjv>['compile']> | undefined;

export function readManifestFile(path: string): Manifest {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new UserError(`cannot read the manifest ${path}: ${(e as Error).message}`);
  }
  validate ??= createAjv().compile(manifestSchema);
  if (!validate(value)) {
    const first = validate.errors
      ?.slice(0, 5)
      .map((e) => `  ${e.instancePath || '/'} ${e.message}`)
      .join('\n');
    throw new UserError(`${path} is not a valid manifest:\n${first}`);
  }
  return value as Manifest;
}

const positiveInt = (name: string, v: string | undefined, fallback: number, min = 1): number =>
  intOption(name, v, { min }) ?? fallback;

export const serveCommand: Command = {
  usage,
  async run(argv) {
    const { values } = parseCommandArgs(
      argv,
      {
        manifest: { type: 'string' },
        environment: { type: 'string' },
        'models-dir': { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string', default: GATEWAY_DEFAULTS.host },
        seed: { type: 'string' },
        state: { type: 'string' },
        'max-body-bytes': { type: 'string' },
        'max-connections': { type: 'string' },
        'headers-timeout-ms': { type: 'string' },
        'body-timeout-ms': { type: 'string' },
        'request-timeout-ms': { type: 'string' },
        'keep-alive-timeout-ms': { type: 'string' },
        'idle-timeout-ms': { type: 'string' },
        threads: { type: 'string' },
        gpu: { type: 'boolean', default: false },
        python: { type: 'string' },
        'api-key-env': { type: 'string' },
        'drain-timeout-ms': { type: 'string' },
        store: { type: 'string' },
        trust: { type: 'string' },
        'cache-dir': { type: 'string' },
        interval: { type: 'string', default: '30' },
        json: { type: 'boolean', default: false },
      },
      usage,
    );
    if (values.help) {
      console.log(`usage: ${usage}\n${limitsHelp}\n${enginesHelp}`);
      return EXIT.ok;
    }
    if (!values.environment) throw new UserError(`--environment is required\nusage: ${usage}`);
    const environment = values.environment;
    // Two ways to get the manifest: follow the signed one in a store (verified through TUF, versions
    // fetched from the store and hash-checked), or read a file verified elsewhere (with local folders).
    const follow = values.store !== undefined || values.trust !== undefined;
    if (follow && !(values.store && values.trust))
      throw new UserError(
        `--store and --trust go together: the gateway only follows a manifest it can verify\nusage: ${usage}`,
      );
    if (follow && (values.manifest || values['models-dir']))
      throw new UserError(`use either --store/--trust or --manifest/--models-dir, not both\nusage: ${usage}`);
    if (!follow) {
      for (const required of ['manifest', 'models-dir'] as const) {
        if (!values[required])
          throw new UserError(
            `--${required} is required (or follow a store with --store and --trust)\nusage: ${usage}`,
          );
      }
    }
    const storeUrl = follow ? storeUrlOrDefault(values.store) : undefined; // refuses a URL carrying credentials
    const cacheDir = values['cache-dir'] ?? join('.model-gitops', `gateway-${environment}`);
    const intervalS = numberOption('interval', values.interval, 1)!;
    const fetchManifest = async (): Promise<Manifest> => {
      if (!follow) return readManifestFile(values.manifest!);
      try {
        const v = await fetchVerifiedManifest({
          trustedRoot: await readTrustRoot(values.trust!),
          stateDir: join(cacheDir, 'trust'),
          source: trustSourceOf(storeUrl!),
          target: environmentTarget(environment),
        });
        return v.manifest as Manifest;
      } catch (e) {
        if (!(e instanceof TrustVerificationError)) throw e;
        throw new UserError(`manifest refused (${e.code}): ${e.message}`, { exitCode: e.exitCode });
      }
    };
    const manifestPath = follow ? `${values.store} (signed)` : values.manifest!;
    const port = intOption('port', values.port, { min: 0, max: 65535 }) ?? 8080;
    const limits: Partial<HttpLimits> = {};
    for (const [flag, key] of Object.entries(LIMIT_FLAGS))
      limits[key] = intOption(flag, values[flag as keyof typeof LIMIT_FLAGS], {
        min: key === 'maxConnections' ? 1 : 0,
      });
    httpLimits(limits); // refuse inconsistent limits (a headers timeout above the request timeout) before loading anything
    const threads = intOption('threads', values.threads, { min: 1, max: 1024 });
    const apiKeyEnv = values['api-key-env'] ?? API_KEY_ENV;
    if (values['api-key-env'] !== undefined && !process.env[apiKeyEnv])
      throw new UserError(`--api-key-env ${apiKeyEnv}: that environment variable is not set (or empty)`);
    const apiKey = process.env[apiKeyEnv] || undefined;
    const drainTimeoutMs = intOption('drain-timeout-ms', values['drain-timeout-ms'], { min: 0 });
    const statePath = values.state ?? join('.model-gitops', `gateway-${environment}.state.json`);
    const manifest = await fetchManifest();
    const models = Object.keys(manifestEnvironment(manifest, environment, manifestPath).models);

    // Fetch progress goes to stderr (stdout carries the --json result): what came whole, as a delta, or fell back.
    const onEvent = (e: SyncEvent) => {
      if (e.type === 'file' && e.how !== 'cached')
        console.error(
          `fetched ${e.model} ${e.path} (${e.how}: ${formatBytes(e.bytesFetched)} fetched, ${formatBytes(e.bytesReused)} reused)`,
        );
      else if (e.type === 'gc')
        console.error(
          `pruned the version cache: ${e.versionsRemoved.join(', ') || 'no versions'}, ${e.blobsRemoved} blob(s), ${formatBytes(e.bytesFreed)} freed`,
        );
      else if (e.type === 'fallback' || e.type === 'retry')
        console.error(
          `${e.type}: ${e.type === 'fallback' ? `${e.model} ${e.path}: ${e.reason}` : `${e.what}: ${e.error}`}`,
        );
    };
    const blobSource = storeUrl ? locateStoreRoot(storeUrl).source : undefined;
    const gateway = createGateway({
      environment,
      source: blobSource
        ? new StoreVersionSource(blobSource, join(cacheDir, 'sync'), { onEvent })
        : new FolderVersionSource(values['models-dir']!),
      statePath,
      maxBodyBytes: positiveInt('max-body-bytes', values['max-body-bytes'], GATEWAY_DEFAULTS.maxBodyBytes),
      engines: {
        llamaCpp: { ...(threads !== undefined ? { threads } : {}), ...(values.gpu ? { gpu: 'auto' as const } : {}) },
        pytorch: {
          ...(threads !== undefined ? { threads } : {}),
          ...(values.gpu ? { device: 'cuda' } : {}),
          ...(values.python ? { python: values.python } : {}),
        },
      },
      ...(apiKey ? { apiKey } : {}),
      ...(drainTimeoutMs !== undefined ? { drainTimeoutMs } : {}),
      ...(values.seed !== undefined ? { seed: values.seed } : {}),
    });
    let applied: Awaited<ReturnType<typeof gateway.applyManifest>>;
    let address: Awaited<ReturnType<typeof gateway.listen>>;
    try {
      applied = await gateway.applyManifest(manifest);
      try {
        address = await gateway.listen(port, values.host, limits);
      } catch (e) {
        throw new UserError(`cannot listen on ${values.host}:${port}: ${(e as Error).message}`);
      }
    } catch (e) {
      await gateway.close();
      blobSource?.close?.();
      throw e;
    }
    if (values.json)
      printJson({
        url: address.url,
        environment,
        sequence: manifest.sequence,
        models,
        loaded: applied.loaded,
        rolledBack: applied.rolledBack,
        unavailable: applied.unavailable,
        apiKey: apiKey !== undefined,
        state: statePath,
      });
    else
      console.log(
        `serving ${environment} (manifest ${manifest.sequence}: ${models.join(', ')}) on ${address.url}\n  POST ${address.url}/v1/models/<model>/predict   GET /metrics /status /healthz   state: ${statePath}` +
          (apiKey ? `\n  /v1/* needs the API key from $${apiKeyEnv}` : ''),
      );
    for (const [version, why] of Object.entries(applied.unavailable))
      console.error(`unavailable: ${version}: ${why} (the others serve)`);

    let current = manifest.sequence;
    const reload = (why: string) => {
      fetchManifest()
        .then(async (m) => {
          if (follow && m.sequence === current) return; // nothing new was published
          const r = await gateway.applyManifest(m);
          current = r.sequence;
          console.error(
            `${why}: applied manifest ${r.sequence}: loaded ${r.loaded.join(', ') || 'nothing new'}, retired ${r.retired.join(', ') || 'nothing'}`,
          );
        })
        .catch((e: unknown) => console.error(`${why}: still serving manifest ${current}: ${(e as Error).message}`));
    };
    const onHup = () => reload('SIGHUP');
    process.on('SIGHUP', onHup);
    // Following a store: poll on a jittered interval (timestamp.json is small; TUF refuses stale or forged metadata).
    let timer: NodeJS.Timeout | undefined;
    const schedule = () => {
      timer = setTimeout(
        () => {
          reload('poll');
          schedule();
        },
        intervalS * 1000 * (0.8 + Math.random() * 0.4),
      );
      timer.unref();
    };
    if (follow) schedule();
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    if (timer) clearTimeout(timer);
    process.off('SIGHUP', onHup);
    await gateway.close();
    blobSource?.close?.();
    return EXIT.ok;
  },
};
