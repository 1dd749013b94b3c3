// The HTTP gateway behind `model-gitops serve`: routes each request to a version per the manifest's
// rollout, calls the loaded version, hot-swaps versions when a new manifest arrives, measures every
// version and rolls a misbehaving canary back on its own.
//
// Hot-swap contract: applyManifest loads and warms every version the new manifest references BEFORE
// routing changes; the switch itself is one synchronous assignment; versions no longer referenced
// are retired and closed only once their in-flight requests have finished (reference counts taken
// synchronously with the routing decision, so no request can pick a version that is already closed).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UserError } from '../lib/errors.ts';
import type { Manifest, ManifestVersion } from '../manifest/manifest.ts';
import { type RouteDecision, type Router, RoutingError, createRouter } from '../manifest/routing.ts';
import { InputError, type LoadedModel, type Loader, type OpenAIKind, defaultLoaderFor } from './loaders.ts';
import { type MetricFamily, VersionMetrics, renderPrometheus, versionFamilies } from './metrics.ts';
import { CanaryTracker, type RollbackRecord, type RolloutRule, StateStore } from './rollout.ts';
import type { VersionSource } from './source.ts';

export interface GatewayOptions {
  environment: string;
  source: VersionSource;
  loaderFor?: (model: string, version: string, entry: ManifestVersion) => Loader;
  /** Routing seed; default the environment name (see src/manifest/routing.ts). */
  seed?: string;
  /** Where rollback decisions persist across restarts; without it they live in memory only. */
  statePath?: string;
  /** Rule for deployments whose manifest entry has no `rollout`. */
  defaultRollout?: RolloutRule;
  /** Request bodies above this are refused with 413. Default 1 MiB. */
  maxBodyBytes?: number;
  onEvent?: (event: GatewayEvent) => void;
  /** One JSON line per event; default: standard error. */
  log?: (line: string) => void;
}

export type GatewayEvent =
  | { type: 'manifest-applied'; environment: string; sequence: number; loaded: string[]; retired: string[]; at: string }
  | { type: 'canary-rolled-back'; environment: string; model: string; canary: string; champion: string; reason: string; requests: number; failures: number; at: string }
  | { type: 'version-closed'; environment: string; model: string; version: string; at: string }
  | { type: 'close-failed'; environment: string; model: string; version: string; error: string; at: string }
  | { type: 'prune-failed'; environment: string; error: string; at: string };

interface Slot {
  model: string;
  version: string;
  loaded: LoadedModel;
  inflight: number;
  retired: boolean;
  closed?: Promise<void>;
  /** Set by close() while the slot still drains. */
  onClosed?: () => void;
}

const newSlot = (model: string, version: string, loaded: LoadedModel): Slot => ({ model, version, loaded, inflight: 0, retired: false });

interface Generation {
  manifest: Manifest;
  router: Router;
  slots: Map<string, Slot>;
  trackers: Map<string, CanaryTracker>;
}

export interface ApplyResult { sequence: number; loaded: string[]; retired: string[]; rolledBack: string[] }

/** An HTTP error with a JSON body `{error: {code, message}}`. */
export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.code = code;
  }
}

const slotKey = (model: string, version: string) => `${model}@${version}`;
const PREDICT_PATH = /^\/v1\/models\/([^/]+)\/predict$/;

export class Gateway {
  readonly environment: string;
  readonly events: GatewayEvent[] = [];
  private readonly options: GatewayOptions;
  private readonly loaderFor: NonNullable<GatewayOptions['loaderFor']>;
  private readonly maxBodyBytes: number;
  private readonly state: StateStore;
  private readonly metrics = new Map<string, { model: string; version: string; m: VersionMetrics }>();
  private current: Generation | undefined;
  private applying: Promise<unknown> = Promise.resolve();
  private server: Server | undefined;
  private rollbacksTotal = 0;
  private closing = false;
  /** Every slot not closed yet, including retired ones still draining. */
  private readonly live = new Set<Slot>();

  constructor(options: GatewayOptions) {
    this.options = options;
    this.environment = options.environment;
    this.loaderFor = options.loaderFor ?? defaultLoaderFor();
    this.maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
    this.state = new StateStore(options.statePath, options.environment);
  }

  // ---- manifests --------------------------------------------------------------------------------

  /** Serialised: a second call waits for the first. Rejects (changing nothing) when a champion or
   * rollback-window version fails to materialise, load or warm; a canary that fails is applied as
   * rolled back instead, so one bad canary cannot block the rest of a manifest. */
  applyManifest(manifest: Manifest): Promise<ApplyResult> {
    const run = this.applying.then(() => this.apply(manifest));
    this.applying = run.catch(() => undefined);
    return run;
  }

  private async apply(manifest: Manifest): Promise<ApplyResult> {
    if (this.closing) throw new UserError('the gateway is closing');
    const env = manifest.environments[this.environment];
    if (!env) throw new UserError(`the manifest has no environment "${this.environment}"`);
    const router = createRouter(manifest, this.environment, this.options.seed === undefined ? {} : { seed: this.options.seed });
    const old = this.current;

    // Every referenced version must have an entry; collect what is not loaded yet.
    const wanted: { model: string; version: string; entry: ManifestVersion; role: 'champion' | 'canary' | 'rollback' }[] = [];
    for (const [model, d] of Object.entries(env.models)) {
      const roles: [string, 'champion' | 'canary' | 'rollback'][] = [[d.version, 'champion'], ...(d.canary ? [[d.canary.version, 'canary'] as [string, 'canary']] : []), ...(d.rollbackWindow ?? []).map((v) => [v, 'rollback'] as [string, 'rollback'])];
      for (const [version, role] of roles) {
        const entry = manifest.models[model]?.versions[version];
        if (!entry) throw new UserError(`the manifest references ${model}@${version} in "${this.environment}" but has no entry for it`);
        if (!wanted.some((w) => w.model === model && w.version === version)) wanted.push({ model, version, entry, role });
      }
    }
    const toLoad = wanted.filter((w) => !old?.slots.has(slotKey(w.model, w.version)));
    const results = await Promise.allSettled(toLoad.map(async (w) => {
      const dir = await this.options.source.materialize(w.model, w.version, w.entry);
      const loaded = await this.loaderFor(w.model, w.version, w.entry).load(dir, w.entry);
      try {
        await loaded.warm();
      } catch (e) {
        await loaded.close().catch(() => undefined);
        throw e;
      }
      return loaded;
    }));
    const failedCanaries = new Map<string, string>();
    const fatal: string[] = [];
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') return;
      const w = toLoad[i]!;
      const why = (r.reason as Error)?.message ?? String(r.reason);
      if (w.role === 'canary') failedCanaries.set(w.model, why);
      else fatal.push(`${w.model}@${w.version} (${w.role}): ${why}`);
    });
    if (fatal.length) {
      await Promise.all(results.map((r) => (r.status === 'fulfilled' ? r.value.close().catch(() => undefined) : undefined)));
      throw new UserError(`manifest ${manifest.sequence} not applied; routing is unchanged. Could not load:\n  ${fatal.join('\n  ')}`);
    }

    const slots = new Map<string, Slot>();
    for (const w of wanted) {
      const key = slotKey(w.model, w.version);
      const kept = old?.slots.get(key);
      if (kept) { slots.set(key, kept); continue; }
      const r = results[toLoad.indexOf(w)]!;
      if (r.status === 'fulfilled') { const slot = newSlot(w.model, w.version, r.value); slots.set(key, slot); this.live.add(slot); }
    }

    // Rollback state: a recorded rollback holds while the manifest keeps the same canary version;
    // a manifest that changes (or removes) the canary clears it.
    const rolledBack: string[] = [];
    const trackers = new Map<string, CanaryTracker>();
    let stateChanged = false;
    const now = new Date().toISOString();
    for (const [model, d] of Object.entries(env.models)) {
      const rec = this.state.state.rolledBack[model];
      if (rec && rec.canaryVersion !== d.canary?.version) { delete this.state.state.rolledBack[model]; stateChanged = true; }
      if (!d.canary) continue;
      const loadFailure = failedCanaries.get(model);
      if (loadFailure !== undefined && !this.state.state.rolledBack[model]) {
        this.state.state.rolledBack[model] = { canaryVersion: d.canary.version, champion: d.version, reason: `canary failed to load: ${loadFailure}`, at: now, manifestSequence: manifest.sequence };
        stateChanged = true;
        this.emit({ type: 'canary-rolled-back', environment: this.environment, model, canary: d.canary.version, champion: d.version, reason: `canary failed to load: ${loadFailure}`, requests: 0, failures: 0, at: now });
        this.rollbacksTotal++;
      }
      if (this.state.state.rolledBack[model] || loadFailure !== undefined) {
        router.suppressCanary(model);
        rolledBack.push(model);
        continue;
      }
      const prev = old?.trackers.get(model);
      const rule = d.rollout ?? this.options.defaultRollout;
      trackers.set(model, prev && prev.canary === d.canary.version && prev.champion === d.version && !prev.tripped && sameRule(prev.rule, rule)
        ? prev
        : new CanaryTracker(model, d.version, d.canary.version, rule));
    }
    if (stateChanged) this.state.save();

    // The switch: one assignment, after everything new is warm.
    this.current = { manifest, router, slots, trackers };
    const retired: string[] = [];
    for (const [key, slot] of old?.slots ?? []) {
      if (slots.has(key)) continue;
      retired.push(key);
      this.retire(slot);
    }
    const loaded = toLoad.filter((_, i) => results[i]!.status === 'fulfilled').map((w) => slotKey(w.model, w.version));
    this.emit({ type: 'manifest-applied', environment: this.environment, sequence: manifest.sequence, loaded, retired, at: new Date().toISOString() });
    // The source may now free what neither this manifest nor the one it replaced uses (one step back
    // stays cached for a quick return). A failed prune costs disk, never the switch.
    if (this.options.source.retain) {
      const keep = new Map(wanted.map(({ model, version, entry }) => [slotKey(model, version), { model, version, entry }]));
      for (const { model, version } of old?.slots.values() ?? []) {
        const entry = old!.manifest.models[model]?.versions[version];
        if (entry && !keep.has(slotKey(model, version))) keep.set(slotKey(model, version), { model, version, entry });
      }
      await this.options.source.retain([...keep.values()]).catch((e: unknown) => this.emit({ type: 'prune-failed', environment: this.environment, error: String((e as Error)?.message ?? e), at: new Date().toISOString() }));
    }
    return { sequence: manifest.sequence, loaded, retired, rolledBack };
  }

  private retire(slot: Slot): void {
    slot.retired = true;
    if (slot.inflight === 0) this.closeSlot(slot);
  }

  private closeSlot(slot: Slot): Promise<void> {
    this.live.delete(slot);
    slot.closed ??= slot.loaded.close().then(
      () => this.emit({ type: 'version-closed', environment: this.environment, model: slot.model, version: slot.version, at: new Date().toISOString() }),
      (e: unknown) => this.emit({ type: 'close-failed', environment: this.environment, model: slot.model, version: slot.version, error: String((e as Error)?.message ?? e), at: new Date().toISOString() }),
    ).finally(() => slot.onClosed?.());
    return slot.closed;
  }

  /** Forget a recorded rollback and route to the model's canary again (an operator's decision). */
  clearRollback(model: string): boolean {
    const gen = this.current;
    if (!this.state.state.rolledBack[model] || !gen) return false;
    delete this.state.state.rolledBack[model];
    this.state.save();
    const router = createRouter(gen.manifest, this.environment, this.options.seed === undefined ? {} : { seed: this.options.seed });
    for (const m of Object.keys(this.state.state.rolledBack)) router.suppressCanary(m);
    const d = gen.manifest.environments[this.environment]!.models[model];
    const trackers = new Map(gen.trackers);
    if (d?.canary && gen.slots.has(slotKey(model, d.canary.version))) trackers.set(model, new CanaryTracker(model, d.version, d.canary.version, d.rollout ?? this.options.defaultRollout));
    else router.suppressCanary(model);
    this.current = { ...gen, router, trackers };
    return true;
  }

  private trip(model: string, tracker: CanaryTracker, reason: string): void {
    const gen = this.current;
    // Only if this tracker still describes the live canary (a newer manifest may have replaced it).
    if (!gen || gen.trackers.get(model) !== tracker) return;
    gen.router.suppressCanary(model); // at once: the next routing decision already excludes it
    const at = new Date().toISOString();
    const rec: RollbackRecord = { canaryVersion: tracker.canary, champion: tracker.champion, reason, at, manifestSequence: gen.manifest.sequence };
    this.state.state.rolledBack[model] = rec;
    this.rollbacksTotal++;
    try {
      this.state.save();
    } catch (e) {
      // Routing has already stopped; a failed write must not undo that, but it must be seen.
      this.log({ type: 'state-write-failed', path: this.state.path, error: (e as Error).message, at });
    }
    this.emit({ type: 'canary-rolled-back', environment: this.environment, model, canary: tracker.canary, champion: tracker.champion, reason, requests: tracker.canaryWindow.requests, failures: tracker.canaryWindow.failures, at });
  }

  private emit(event: GatewayEvent): void {
    this.events.push(event);
    if (this.events.length > 1000) this.events.splice(0, this.events.length - 1000);
    this.log(event);
    try { this.options.onEvent?.(event); } catch { /* a listener's bug must not break serving */ }
  }

  private log(obj: object): void {
    const line = JSON.stringify(obj);
    if (this.options.log) this.options.log(line);
    else process.stderr.write(`${line}\n`);
  }

  // ---- serving ----------------------------------------------------------------------------------

  private versionMetrics(model: string, version: string): VersionMetrics {
    const key = slotKey(model, version);
    let e = this.metrics.get(key);
    if (!e) this.metrics.set(key, (e = { model, version, m: new VersionMetrics() }));
    return e.m;
  }

  /** Route and run one call on a version, with reference counting, metrics and rollback checks.
   * `call` returns whether the outcome is a failure of the version (for proxied 5xx answers). */
  private async serve<T>(model: string, key: string | undefined, override: string | undefined, call: (m: LoadedModel, d: RouteDecision) => Promise<T>): Promise<{ value: T; decision: RouteDecision }> {
    const gen = this.current;
    if (!gen) throw new HttpError(503, 'not-ready', 'the gateway has no manifest applied yet');
    let decision: RouteDecision;
    try {
      decision = gen.router.route(model, key, override === undefined ? undefined : { override });
    } catch (e) {
      if (e instanceof RoutingError) throw new HttpError(e.code === 'unknown-model' ? 404 : 400, e.code, e.message);
      throw e;
    }
    const slot = gen.slots.get(slotKey(model, decision.version));
    if (!slot) throw new HttpError(503, 'version-unavailable', `${model}@${decision.version} is not loaded`);
    const m = this.versionMetrics(model, decision.version);
    m.routed[decision.reason] = (m.routed[decision.reason] ?? 0) + 1;
    slot.inflight++;
    m.inflight++;
    const t0 = performance.now();
    let ok = false;
    let inputError = false;
    try {
      const value = await call(slot.loaded, decision);
      ok = true;
      return { value, decision };
    } catch (e) {
      if (e instanceof InputError) { inputError = true; throw new HttpError(400, 'bad-input', e.message); }
      throw new HttpError(502, 'model-error', `${model}@${decision.version} failed: ${(e as Error)?.message ?? String(e)}`);
    } finally {
      const seconds = (performance.now() - t0) / 1000;
      slot.inflight--;
      m.inflight--;
      if (slot.retired && slot.inflight === 0) void this.closeSlot(slot);
      if (inputError) m.rejected++;
      else {
        m.requests++;
        if (ok) m.latency.observe(seconds);
        else m.errors++;
        const tracker = gen.trackers.get(model);
        const reason = tracker?.observe(decision.version, ok, seconds);
        if (reason && tracker) this.trip(model, tracker, reason);
      }
    }
  }

  /** In-process prediction through routing (what the HTTP handler does, without HTTP). */
  async predict(model: string, inputs: unknown, options: { key?: string; override?: string } = {}): Promise<{ version: string; reason: string; outputs: unknown }> {
    const { value, decision } = await this.serve(model, options.key, options.override, (m) => m.predict(inputs));
    return { version: decision.version, reason: decision.reason, outputs: value };
  }

  /** The node:http request listener. */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.dispatch(req, res).catch((e: unknown) => {
      const err = e instanceof HttpError ? e : new HttpError(500, 'internal', `internal error: ${(e as Error)?.message ?? String(e)}`);
      if (!(e instanceof HttpError)) this.log({ type: 'internal-error', error: String((e as Error)?.stack ?? e), at: new Date().toISOString() });
      if (res.headersSent) { res.destroy(); return; }
      sendJson(res, err.status, { error: { code: err.code, message: err.message } });
    });
  };

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    const predict = PREDICT_PATH.exec(path);
    if (predict) {
      requireMethod(req, 'POST');
      let model: string;
      try { model = decodeURIComponent(predict[1]!); } catch { throw new HttpError(400, 'bad-path', 'the model name in the path is not valid percent-encoding'); }
      const body = await readJson(req, this.maxBodyBytes);
      if (typeof body !== 'object' || body === null || Array.isArray(body) || !('inputs' in body)) throw new HttpError(400, 'bad-request', 'the body must be a JSON object with "inputs"');
      const { value, decision } = await this.serve(model, header(req, 'x-routing-key'), header(req, 'x-model-version'), (m) => m.predict((body as { inputs: unknown }).inputs));
      res.setHeader('x-served-version', decision.version);
      res.setHeader('x-route-reason', decision.reason);
      sendJson(res, 200, { model, version: decision.version, reason: decision.reason, outputs: value });
      return;
    }
    if (path === '/v1/chat/completions' || path === '/v1/completions') {
      requireMethod(req, 'POST');
      const body = await readJson(req, this.maxBodyBytes);
      if (typeof body !== 'object' || body === null || Array.isArray(body) || typeof (body as { model?: unknown }).model !== 'string') {
        throw new HttpError(400, 'bad-request', 'the body must be a JSON object with a "model" string');
      }
      const b = body as Record<string, unknown> & { model: string; user?: unknown };
      const key = header(req, 'x-routing-key') ?? (typeof b.user === 'string' ? b.user : undefined);
      const kind: OpenAIKind = path === '/v1/chat/completions' ? 'chat/completions' : 'completions';
      const { value, decision } = await this.serve(b.model, key, header(req, 'x-model-version'), async (m, d) => {
        if (!m.openai) throw new InputError(`${b.model}@${d.version} is not served through an OpenAI-compatible endpoint; use /v1/models/${b.model}/predict`);
        const r = await m.openai(kind, b);
        // A 5xx is the version's failure (counted, may trip the rollback); a 4xx is passed through.
        if (r.status >= 500) throw new Error(`upstream answered HTTP ${r.status}: ${JSON.stringify(r.body).slice(0, 300)}`);
        return r;
      });
      res.setHeader('x-served-version', decision.version);
      res.setHeader('x-route-reason', decision.reason);
      const out = value.body;
      // Answer with the name the client asked for, not the upstream's internal model id.
      if (typeof out === 'object' && out !== null && typeof (out as { model?: unknown }).model === 'string') (out as { model: string }).model = b.model;
      sendJson(res, value.status, out);
      return;
    }
    if (path === '/v1/models') {
      requireMethod(req, 'GET');
      const gen = this.current;
      sendJson(res, 200, { object: 'list', data: (gen?.router.models() ?? []).map((id) => ({ id, object: 'model', owned_by: 'model-gitops' })) });
      return;
    }
    if (path === '/metrics') {
      requireMethod(req, 'GET');
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(this.metricsText());
      return;
    }
    if (path === '/healthz') {
      requireMethod(req, 'GET');
      const ready = this.current !== undefined && !this.closing;
      sendJson(res, ready ? 200 : 503, { status: ready ? 'ok' : this.closing ? 'closing' : 'no manifest applied', environment: this.environment, sequence: this.current?.manifest.sequence ?? null });
      return;
    }
    if (path === '/status') {
      requireMethod(req, 'GET');
      sendJson(res, 200, this.status());
      return;
    }
    throw new HttpError(404, 'not-found', `no route for ${req.method} ${path}; try POST /v1/models/<model>/predict`);
  }

  // ---- observability ----------------------------------------------------------------------------

  metricsText(): string {
    const gen = this.current;
    const families: MetricFamily[] = versionFamilies([...this.metrics.values()].sort((a, b) => a.model.localeCompare(b.model) || a.version.localeCompare(b.version)));
    const loaded: MetricFamily = { name: 'model_gitops_version_loaded', help: 'Versions loaded, by role in the current manifest.', type: 'gauge', samples: [] };
    const rolled: MetricFamily = { name: 'model_gitops_canary_rolled_back', help: '1 when the canary of a deployment has been rolled back by the gateway.', type: 'gauge', samples: [] };
    for (const [model, d] of Object.entries(gen?.manifest.environments[this.environment]?.models ?? {})) {
      loaded.samples.push(['', { model, version: d.version, role: 'champion' }, 1]);
      if (d.canary) {
        const rec = this.state.state.rolledBack[model];
        loaded.samples.push(['', { model, version: d.canary.version, role: 'canary' }, gen!.slots.has(slotKey(model, d.canary.version)) ? 1 : 0]);
        rolled.samples.push(['', { model, version: d.canary.version }, rec?.canaryVersion === d.canary.version ? 1 : 0]);
      }
      for (const v of d.rollbackWindow ?? []) loaded.samples.push(['', { model, version: v, role: 'rollback' }, 1]);
    }
    families.push(loaded, rolled,
      { name: 'model_gitops_canary_rollbacks_total', help: 'Automated canary rollbacks since the gateway started.', type: 'counter', samples: [['', {}, this.rollbacksTotal]] },
      { name: 'model_gitops_manifest_sequence', help: 'Sequence number of the manifest being served.', type: 'gauge', samples: [['', {}, gen?.manifest.sequence ?? 0]] });
    return renderPrometheus(families);
  }

  status(): object {
    const gen = this.current;
    const models: Record<string, unknown> = {};
    for (const [model, d] of Object.entries(gen?.manifest.environments[this.environment]?.models ?? {})) {
      const versions = [d.version, ...(d.canary ? [d.canary.version] : []), ...(d.rollbackWindow ?? [])];
      const rec = this.state.state.rolledBack[model];
      const t = gen!.trackers.get(model);
      models[model] = {
        champion: d.version,
        canary: d.canary ? {
          ...d.canary,
          state: rec?.canaryVersion === d.canary.version ? 'rolled-back' : 'active',
          ...(rec?.canaryVersion === d.canary.version ? { rollback: rec } : {}),
          ...(t ? { window: { requests: t.canaryWindow.requests, failures: t.canaryWindow.failures, championRequests: t.championWindow.requests, championFailures: t.championWindow.failures } } : {}),
        } : null,
        rollbackWindow: d.rollbackWindow ?? [],
        rollout: d.rollout ?? this.options.defaultRollout ?? null,
        versions: Object.fromEntries(versions.map((v) => {
          const m = this.metrics.get(slotKey(model, v))?.m;
          const q = (x: number) => (m && m.latency.count ? Number((m.latency.quantile(x) * 1000).toFixed(3)) : null);
          return [v, { loaded: gen!.slots.has(slotKey(model, v)), inflight: m?.inflight ?? 0, requests: m?.requests ?? 0, errors: m?.errors ?? 0, p50_ms: q(0.5), p95_ms: q(0.95), p99_ms: q(0.99) }];
        })),
      };
    }
    return {
      environment: this.environment,
      ready: gen !== undefined && !this.closing,
      sequence: gen?.manifest.sequence ?? null,
      seed: gen?.router.seed ?? null,
      models,
      rollbacks: this.events.filter((e) => e.type === 'canary-rolled-back').slice(-20),
    };
  }

  // ---- lifecycle --------------------------------------------------------------------------------

  async listen(port = 0, host = '127.0.0.1'): Promise<{ host: string; port: number; url: string }> {
    const server = createServer({ keepAliveTimeout: 5_000 }, this.handle);
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => { server.off('error', reject); resolve(); });
    });
    const a = server.address() as AddressInfo;
    const h = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    return { host: a.address, port: a.port, url: `http://${h}:${a.port}` };
  }

  /** Stop accepting requests, let in-flight ones finish, close every version. */
  async close(): Promise<void> {
    this.closing = true;
    await this.applying;
    const server = this.server;
    if (server) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Keep-alive connections become idle as their last response ends: close them as they do.
      const idle = setInterval(() => server.closeIdleConnections(), 20);
      try { await closed; } finally { clearInterval(idle); }
    }
    // Slots still running in-process predictions close when those finish.
    await Promise.all([...this.live].map((s) => {
      s.retired = true;
      if (s.inflight === 0) return this.closeSlot(s);
      return new Promise<void>((resolve) => { s.onClosed = resolve; });
    }));
  }
}

function sameRule(a: RolloutRule | undefined, b: RolloutRule | undefined): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined || s === '' ? undefined : s;
}

function requireMethod(req: IncomingMessage, method: string): void {
  if (req.method !== method) throw new HttpError(405, 'method-not-allowed', `${req.url} accepts ${method} only, not ${req.method}`);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Reads a JSON body of at most `limit` bytes. An oversized body is drained (up to a cap) so the
 * client reliably reads the 413 instead of a connection reset; beyond the cap the socket is cut. */
async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = declared > limit;
  const drainCap = Math.max(limit * 16, 16 * 1024 * 1024);
  await new Promise<void>((resolve, reject) => {
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) tooLarge = true;
      if (tooLarge) {
        chunks.length = 0;
        if (size > drainCap) { req.destroy(); reject(new HttpError(413, 'body-too-large', `the request body exceeds ${limit} bytes`)); }
        return;
      }
      chunks.push(c);
    });
    req.on('end', resolve);
    req.on('error', reject);
    // A client that disconnects mid-body must not leave this promise (and its request) pending.
    req.on('close', () => { if (!req.complete) reject(new HttpError(400, 'aborted', 'the client closed the connection before sending the whole body')); });
  });
  if (tooLarge) throw new HttpError(413, 'body-too-large', `the request body exceeds ${limit} bytes`);
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (e) {
    throw new HttpError(400, 'bad-json', `the request body is not valid JSON: ${(e as Error).message}`);
  }
}

export function createGateway(options: GatewayOptions): Gateway {
  return new Gateway(options);
}
