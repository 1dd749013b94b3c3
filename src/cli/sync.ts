// `model-gitops sync` and `model-gitops status`: an edge device following a manifest.
// Exit codes: 0 synced or up to date, 1 verification failure, 2 usage or I/O, 3 network after retries.
import { describeDeprecation } from '../manifest/deprecation.ts';
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { EXIT } from '../lib/exit-codes.ts';
import { asUserError, UserError } from '../lib/errors.ts';
import { acceptedForProvider, loadAccepted, pollAndSync, type PollAndSyncResult } from '../sync/client.ts';
import { SYNC_DEFAULTS } from '../sync/defaults.ts';
import type { SyncEvent } from '../sync/engine.ts';
import { linkedBase } from '../sync/adapters.ts';
import { activeVersion, listDir, paths, readState } from '../sync/local-store.ts';
import { locateManifest, locateStoreRoot } from '../sync/locate.ts';
import type { BlobSource } from '../sync/source.ts';
import { type ManifestProvider, SourceManifestProvider } from '../sync/manifest-provider.ts';
import { type Command, intOption, numberOption, parseCommandArgs } from './command.ts';
import { printJson, table } from './output.ts';

const syncUsage =
  'model-gitops sync --manifest <url-or-path> --environment <env> --dir <path> [--trust <root.json>] [--watch] [--interval S] [--device-key K] [--canary] [--keep N] [--retries N] [--timeout S] [--coalesce-gap BYTES] [--json]';

import { formatBytes as mib } from '../lib/format.ts';

/** Progress on a TTY (one rewritten line on stderr), plain lines otherwise, NDJSON with --json. */
class Reporter {
  private readonly json: boolean;
  private readonly tty: boolean;
  private start = Date.now();
  private drawn = false;

  constructor(json: boolean) {
    this.json = json;
    this.tty = !json && Boolean(process.stderr.isTTY);
  }

  line(obj: Record<string, unknown>): void {
    process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...obj })}\n`);
  }

  event(e: SyncEvent): void {
    if (this.json) {
      this.line({ event: e.type, ...e, type: undefined });
      return;
    }
    switch (e.type) {
      case 'progress': {
        if (!this.tty) return;
        const s = Math.max(0.001, (Date.now() - this.start) / 1000);
        const total = Math.max(e.bytesPlanned, e.bytesFetched);
        const width = 24;
        const done = total ? Math.round((e.bytesFetched / total) * width) : 0;
        process.stderr.write(
          `\r[${'#'.repeat(done)}${'.'.repeat(width - done)}] ${mib(e.bytesFetched)} / ${mib(total)}  ${mib(e.bytesFetched / s)}/s `,
        );
        this.drawn = true;
        return;
      }
      case 'plan':
        if (e.to !== e.from && e.bytesToFetch > 0)
          this.say(
            `${e.model}: ${e.from ?? '(none)'} -> ${e.to}${e.role === 'canary' ? ' (canary)' : ''}, up to ${mib(e.bytesToFetch)} to fetch`,
          );
        return;
      case 'file':
        if (e.how !== 'cached')
          this.say(
            `  ${e.path}: ${e.how}, ${mib(e.bytesFetched)} fetched${e.bytesReused ? `, ${mib(e.bytesReused)} reused` : ''}`,
          );
        return;
      case 'activated':
        this.say(`${e.model}: ${e.version} active${e.previous ? ` (was ${e.previous})` : ''}`);
        return;
      case 'rolled-back':
        this.say(
          `${e.model}: ${e.version} failed to load (${e.error}); ${e.restored ? `back on ${e.restored}` : 'nothing to roll back to'}`,
        );
        return;
      case 'fallback':
        this.say(`  ${e.path}: ${e.reason}; downloading whole`);
        return;
      case 'base-linked':
        this.say(`${e.model}: ${e.version} now runs on ${e.base} ${e.baseVersion}`);
        return;
      case 'deactivated':
        this.say(`${e.model}: ${e.version} deactivated (${e.reason}); its files stay until gc`);
        return;
      case 'retry':
        this.say(`  retry ${e.attempt} in ${e.delayMs} ms: ${e.error}`);
        return;
      case 'gc':
        this.say(
          `removed ${e.versionsRemoved.length} old version(s) and ${e.blobsRemoved} blob(s), ${mib(e.bytesFreed)} freed`,
        );
        return;
      case 'warning':
        this.say(`warning: ${e.message}`);
        return;
      case 'error':
        this.say(`${e.model}: ${e.message}`);
        return;
    }
  }

  say(text: string): void {
    if (this.json) {
      this.line({ event: 'message', message: text });
      return;
    }
    if (this.drawn) {
      process.stderr.write('\r\u001b[K');
      this.drawn = false;
    }
    process.stderr.write(`${text}\n`);
  }

  result(environment: string, r: PollAndSyncResult): void {
    if (this.drawn) {
      process.stderr.write('\r\u001b[K');
      this.drawn = false;
    }
    if (this.json) {
      this.line({
        event: 'result',
        ok: true,
        environment,
        sequence: r.sequence,
        expiresAt: r.expiresAt,
        manifestChanged: r.manifestChanged,
        changed: r.changed,
        bytesFetched: r.bytesFetched,
        bytesReused: r.bytesReused,
        models: r.models,
        deactivated: r.deactivated,
      });
      return;
    }
    const what = r.changed
      ? `synced: ${[
          ...r.models.filter((m) => m.changed).map((m) => `${m.model}@${m.version}`),
          ...r.deactivated.map((d) => `${d.model} deactivated`),
        ].join(', ')}`
      : 'up to date';
    console.log(
      `${environment} (manifest ${r.sequence}): ${what}; ${mib(r.bytesFetched)} fetched${r.bytesReused ? `, ${mib(r.bytesReused)} reused locally` : ''}`,
    );
    this.start = Date.now();
  }

  failure(e: Error, exitCode: number): void {
    if (this.drawn) {
      process.stderr.write('\r\u001b[K');
      this.drawn = false;
    }
    if (this.json) this.line({ event: 'result', ok: false, exitCode, error: e.name, message: e.message });
  }
}

export const syncCommand: Command = {
  usage: syncUsage,
  async run(argv) {
    const { values } = parseCommandArgs(
      argv,
      {
        manifest: { type: 'string' },
        environment: { type: 'string' },
        dir: { type: 'string' },
        trust: { type: 'string' },
        watch: { type: 'boolean', default: false },
        interval: { type: 'string', default: String(SYNC_DEFAULTS.pollIntervalS) },
        'device-key': { type: 'string' },
        canary: { type: 'boolean', default: false },
        keep: { type: 'string', default: String(SYNC_DEFAULTS.keepVersions) },
        retries: { type: 'string', default: String(SYNC_DEFAULTS.retry.attempts) },
        timeout: { type: 'string', default: String(SYNC_DEFAULTS.idleTimeoutMs / 1000) },
        json: { type: 'boolean', default: false },
        // Remote ranges closer than this are fetched as one request (fewer round trips, a few more bytes).
        'coalesce-gap': { type: 'string', default: String(SYNC_DEFAULTS.coalesceGap) },
      },
      syncUsage,
    );
    if (values.help) {
      console.log(`usage: ${syncUsage}`);
      return EXIT.ok;
    }
    for (const k of ['manifest', 'environment', 'dir'] as const)
      if (!values[k]) throw new UserError(`--${k} is required\nusage: ${syncUsage}`);
    const interval = numberOption('interval', values.interval, 1)!;
    const keepVersions = intOption('keep', values.keep, { min: 1 })!;
    const attempts = intOption('retries', values.retries, { min: 1 })!;
    const idleTimeoutMs = numberOption('timeout', values.timeout, 0.1)! * 1000;
    const coalesceGap = intOption('coalesce-gap', values['coalesce-gap'], { min: 0 })!;
    const dir = resolve(values.dir!);
    const environment = values.environment!;
    // With --trust, --manifest is the store root holding the TUF repository (metadata/, targets/) and the blobs.
    const located: { source: BlobSource; key: string; base?: string } = values.trust
      ? locateStoreRoot(values.manifest!, { idleTimeoutMs })
      : locateManifest(values.manifest!, { idleTimeoutMs });
    const { source, key } = located;
    const reporter = new Reporter(values.json);
    const controller = new AbortController();
    const stop = () => controller.abort(new Error('interrupted'));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);

    const provider = async (): Promise<ManifestProvider> => {
      const accepted = await acceptedForProvider(dir);
      if (values.trust) {
        // Imported here, not at start-up: only `sync --trust` needs the TUF client.
        const { tufProviderForSync } = await import('../sync/tuf-provider.ts');
        return tufProviderForSync({
          trustRoot: resolve(values.trust),
          source,
          dir,
          environment,
          ...(located.base !== undefined ? { location: located.base } : {}),
          ...(accepted ? { accepted } : {}),
        });
      }
      return new SourceManifestProvider({
        source,
        key,
        retry: { ...SYNC_DEFAULTS.retry, attempts },
        ...(accepted ? { accepted } : {}),
      });
    };
    if (!values.trust)
      reporter.say('warning: no --trust given: the manifest signature is not checked (sequence and expiry still are)');

    const once = async (): Promise<number> => {
      try {
        const r = await pollAndSync({
          provider: await provider(),
          source,
          environment,
          dir,
          keepVersions,
          canary: values.canary,
          retry: { ...SYNC_DEFAULTS.retry, attempts },
          coalesceGap,
          ...(values['device-key'] !== undefined ? { deviceKey: values['device-key'] } : {}),
          onEvent: (e) => reporter.event(e),
          signal: controller.signal,
        });
        reporter.result(environment, r);
        return EXIT.ok;
      } catch (e) {
        if (controller.signal.aborted) return EXIT.ok;
        const ue = asUserError(e);
        if (!ue) throw e;
        reporter.failure(ue, ue.exitCode);
        if (!values.watch) throw ue;
        reporter.say(`sync failed (exit ${ue.exitCode}): ${ue.message}`);
        return ue.exitCode;
      }
    };

    try {
      if (!values.watch) return await once();
      // Poll with ±20% jitter (a fleet must not poll in lockstep); back off exponentially on errors.
      for (let failures = 0; !controller.signal.aborted; ) {
        failures = (await once()) === 0 ? 0 : failures + 1;
        const base = failures ? Math.min(interval * 2 ** failures, Math.max(interval * 8, 300)) : interval;
        await sleep(base * 1000 * (0.8 + Math.random() * 0.4), undefined, { signal: controller.signal }).catch(
          () => {},
        );
      }
      return EXIT.ok;
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      source.close?.();
    }
  },
};

const statusUsage = 'model-gitops status --dir <path> [--json]';

export const statusCommand: Command = {
  usage: statusUsage,
  async run(argv) {
    const { values } = parseCommandArgs(
      argv,
      { dir: { type: 'string' }, json: { type: 'boolean', default: false } },
      statusUsage,
    );
    if (values.help) {
      console.log(`usage: ${statusUsage}`);
      return EXIT.ok;
    }
    if (!values.dir) throw new UserError(`--dir is required\nusage: ${statusUsage}`);
    const dir = resolve(values.dir);
    if (!(await stat(dir).catch(() => undefined))?.isDirectory())
      throw new UserError(`${dir} is not a synced folder (it does not exist)`);
    const p = paths(dir);
    const { state, warning } = await readState(dir);
    const local = await loadAccepted(dir);
    const models = [];
    for (const m of await listDir(p.models)) {
      if (m.startsWith('.')) continue;
      const active = await activeVersion(dir, m);
      const versions = (await listDir(p.versions(m))).filter((v) => !v.startsWith('.'));
      const r = state.models[m]?.removed;
      // state.json is only a record; a hand-edited one must not make status print nonsense.
      const removed = typeof r?.at === 'string' && typeof r.environment === 'string' ? r : undefined;
      const base = active ? await linkedBase(dir, m, active) : undefined;
      const deprecation = active ? local?.manifest.models[m]?.versions[active]?.deprecation : undefined;
      models.push({
        model: m,
        // The `current` link is the truth: a model without one is not running, whatever state.json says.
        state: active ? 'active' : removed ? 'removed' : 'inactive',
        active: active ?? null,
        versions,
        base: base ? `${base.model}@${base.version}` : null,
        removed: !active && removed ? removed : null,
        lastError: state.models[m]?.lastError ?? null,
        // Only when deprecated, so status of a fleet without deprecations reads exactly as before.
        ...(deprecation ? { deprecation } : {}),
      });
    }
    const staged = [];
    for (const name of (await listDir(p.staging)).filter((n) => n.endsWith('.partial'))) {
      const bytes = (await stat(join(p.staging, name)).catch(() => ({ size: 0 }))).size;
      const meta = JSON.parse(await readFile(join(p.staging, `${name}.json`), 'utf8').catch(() => '{}')) as {
        size?: number;
      };
      staged.push({ sha256: name.replace(/\.partial$/, ''), bytes, size: meta.size ?? null });
    }
    const manifest = local
      ? {
          sequence: local.accepted.sequence,
          sha256: local.accepted.sha256,
          expiresAt: local.accepted.expiresAt,
          expired: new Date(local.accepted.expiresAt) <= new Date(),
          acceptedAt: local.accepted.acceptedAt ?? null,
        }
      : null;
    if (values.json) {
      printJson({
        dir,
        environment: state.environment ?? null,
        manifest,
        models,
        staged,
        ...(warning ? { warning } : {}),
      });
      return EXIT.ok;
    }
    if (warning) console.error(`warning: ${warning}`);
    console.log(`dir: ${dir}${state.environment ? `  environment: ${state.environment}` : ''}`);
    console.log(
      manifest
        ? `manifest: sequence ${manifest.sequence}, expires ${manifest.expiresAt}${manifest.expired ? ' (EXPIRED)' : ''}`
        : 'manifest: none accepted yet',
    );
    if (models.length)
      console.log(
        table([
          ['MODEL', 'ACTIVE', 'ON DISK', 'LAST ERROR'],
          ...models.map((m) => [
            m.model,
            m.active
              ? `${m.active}${m.base ? ` (on ${m.base})` : ''}${'deprecation' in m && m.deprecation ? ` [${describeDeprecation(m.deprecation, new Date())}]` : ''}`
              : m.removed
                ? `- (removed from ${m.removed.environment} ${m.removed.at})`
                : '-',
            m.versions.join(', ') || '-',
            m.lastError ?? '',
          ]),
        ]),
      );
    for (const s of staged)
      console.log(`staged: ${s.sha256.slice(0, 12)}… ${mib(s.bytes)}${s.size ? ` of ${mib(s.size)}` : ' (delta)'}`);
    return EXIT.ok;
  },
};
