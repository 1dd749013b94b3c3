// `model-gitops serve`: run the HTTP gateway for one environment of a manifest. For now the manifest
// is a file that was verified elsewhere; the signed-manifest sync will feed applyManifest later.
// SIGHUP re-reads the manifest file and hot-swaps; SIGINT/SIGTERM drain and exit.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import manifestSchema from '../../schemas/manifest.schema.json' with { type: 'json' };
import { UserError } from '../errors.ts';
import { FolderSource, createGateway } from '../gateway/index.ts';
import type { Manifest } from '../manifest.ts';
import { createAjv } from '../schemas.ts';
import { type Command, EXIT, parseCommandArgs } from './command.ts';
import { printJson } from './output.ts';

const usage = 'model-gitops serve --manifest FILE --environment ENV --models-dir DIR [--port N] [--host 127.0.0.1] [--seed S] [--state FILE] [--max-body-bytes N] [--json]';

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
    const first = validate.errors?.slice(0, 5).map((e) => `  ${e.instancePath || '/'} ${e.message}`).join('\n');
    throw new UserError(`${path} is not a valid manifest:\n${first}`);
  }
  return value as Manifest;
}

const positiveInt = (name: string, v: string | undefined, fallback: number, min = 1): number => {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min) throw new UserError(`--${name} must be a whole number >= ${min}, got "${v}"`);
  return n;
};

export const serveCommand: Command = {
  summary: 'serve an environment\'s models over HTTP with canary routing and automated rollback',
  usage,
  async run(argv) {
    const { values } = parseCommandArgs(argv, {
      manifest: { type: 'string' },
      environment: { type: 'string' },
      'models-dir': { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      seed: { type: 'string' },
      state: { type: 'string' },
      'max-body-bytes': { type: 'string' },
      json: { type: 'boolean', default: false },
    }, usage);
    if (values.help) { console.log(`usage: ${usage}`); return EXIT.ok; }
    for (const required of ['manifest', 'environment', 'models-dir'] as const) {
      if (!values[required]) throw new UserError(`--${required} is required\nusage: ${usage}`);
    }
    const manifestPath = values.manifest!;
    const environment = values.environment!;
    const port = positiveInt('port', values.port, 8080, 0);
    if (port > 65535) throw new UserError(`--port must be at most 65535, got ${port}`);
    const statePath = values.state ?? join('.model-gitops', `gateway-${environment}.state.json`);
    const manifest = readManifestFile(manifestPath);
    if (!manifest.environments[environment]) throw new UserError(`${manifestPath} has no environment "${environment}" (it has: ${Object.keys(manifest.environments).join(', ')})`);

    const gateway = createGateway({
      environment,
      source: new FolderSource(values['models-dir']!),
      statePath,
      maxBodyBytes: positiveInt('max-body-bytes', values['max-body-bytes'], 1024 * 1024),
      ...(values.seed !== undefined ? { seed: values.seed } : {}),
    });
    const applied = await gateway.applyManifest(manifest);
    let address: Awaited<ReturnType<typeof gateway.listen>>;
    try {
      address = await gateway.listen(port, values.host);
    } catch (e) {
      await gateway.close();
      throw new UserError(`cannot listen on ${values.host}:${port}: ${(e as Error).message}`);
    }
    const models = Object.keys(manifest.environments[environment]!.models);
    if (values.json) printJson({ url: address.url, environment, sequence: manifest.sequence, models, loaded: applied.loaded, rolledBack: applied.rolledBack, state: statePath });
    else console.log(`serving ${environment} (manifest ${manifest.sequence}: ${models.join(', ')}) on ${address.url}\n  POST ${address.url}/v1/models/<model>/predict   GET /metrics /status /healthz   state: ${statePath}`);

    const onHup = () => {
      gateway.applyManifest(readManifestFile(manifestPath)).then(
        (r) => console.error(`reloaded manifest ${r.sequence}: loaded ${r.loaded.join(', ') || 'nothing new'}, retired ${r.retired.join(', ') || 'nothing'}`),
        (e: unknown) => console.error(`reload failed, still serving the previous manifest: ${(e as Error).message}`),
      );
    };
    process.on('SIGHUP', onHup);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    process.off('SIGHUP', onHup);
    await gateway.close();
    return EXIT.ok;
  },
};
