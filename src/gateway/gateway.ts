// The gateway's in-process core behind `model-gitops serve`: routes each call to a version per the
// manifest's rollout, calls the loaded version, hot-swaps versions when a new manifest arrives,
// measures every version and rolls a misbehaving canary back on its own. http.ts puts HTTP in front
// of it; apply-plan.ts decides what a manifest changes; metrics.ts and status.ts render what it sees.
//
// Hot-swap contract: applyManifest loads and warms every version the new manifest references BEFORE
// routing changes; the switch itself is one synchronous assignment; versions no longer referenced
// are retired and closed only once their in-flight requests have finished (reference counts taken
// synchronously with the routing decision, so no request can pick a version that is already closed).
import type { Server } from 'node:http';
import { UserError } from '../lib/errors.ts';
import type { Manifest, ManifestVersion } from '../manifest/manifest.ts';
import { type RouteDecision, type Router, RoutingError, createRouter } from '../manifest/routing.ts';
import { type ApplyPlan, planApply, planRollbacks, slotKey } from './apply-plan.ts';
import { GATEWAY_DEFAULTS } from './defaults.ts';
import {
  HttpError,
  type HttpLimits,
  type ListenAddress,
  type RequestHandler,
  closeHttp,
  createHttpServer,
  createRequestHandler,
  listenHttp,
} from './http.ts';
import { EventLog } from './events.ts';
import { CallAborted, InputError, type LoadContext, type LoadedModel, defaultLoaderFor, engineOf } from './loaders.ts';
import { VersionMetrics, renderGatewayMetrics } from './metrics.ts';
import { CanaryTracker, type RollbackRecord, type RolloutRule, StateStore } from './rollout.ts';
import { type Slot, Slots } from './slots.ts';
import { type GatewayStatus, type RollbackEvent, describeStatus } from './status.ts';
import type { ApplyResult, GatewayEvent, GatewayOptions } from './types.ts';

export type { ApplyResult, GatewayEvent, GatewayOptions } from './types.ts';

/** What one applied manifest serves; replaced whole, never edited in place (except router suppression). */
interface Generation {
  manifest: Manifest;
  router: Router;
  slots: Map<string, Slot>;
  trackers: Map<string, CanaryTracker>;
  /** By slotKey: versions that failed to load at start-up, with the reason (engine, file or endpoint, cause). */
  unavailable: Map<string, string>;
}

/** The outcome of loading a plan's new versions. */
interface Loaded {
  /** By slotKey, in the plan's load order. */
  models: Map<string, LoadedModel>;
  /** Per model, why its canary failed to load (a canary never blocks a manifest). */
  canaryFailures: Map<string, string>;
  /** By slotKey, start-up only: champions and rollback-window versions that failed, served as unavailable. */
  unavailable: Map<string, string>;
}

/** How many of the latest rollbacks status() lists. */
const STATUS_ROLLBACKS = 20;

export class Gateway {
  readonly environment: string;
  readonly events: GatewayEvent[];
  /** The node:http request listener. */
  readonly handle: RequestHandler;
  private readonly options: GatewayOptions;
  private readonly loaderFor: NonNullable<GatewayOptions['loaderFor']>;
  private readonly state: StateStore;
  private readonly metrics = new Map<string, { model: string; version: string; m: VersionMetrics }>();
  private current: Generation | undefined;
  private applying: Promise<unknown> = Promise.resolve();
  private server: Server | undefined;
  private rollbacksTotal = 0;
  private closing = false;
  private readonly eventLog: EventLog;
  /** Every loaded version not closed yet, including retired ones still draining. */
  private readonly pool: Slots;

  constructor(options: GatewayOptions) {
    this.options = options;
    this.environment = options.environment;
    this.eventLog = new EventLog(options);
    this.events = this.eventLog.events;
    this.pool = new Slots(
      (slot, error) => this.versionClosed(slot, error),
      options.drainTimeoutMs ?? GATEWAY_DEFAULTS.drainTimeoutMs,
    );
    this.loaderFor = options.loaderFor ?? defaultLoaderFor(options.engines);
    this.state = new StateStore(options.statePath, options.environment);
    this.handle = createRequestHandler(
      {
        environment: this.environment,
        serve: (model, key, override, call, extra) => this.serve(model, key, override, call, extra),
        models: () => this.current?.router.models() ?? [],
        created: () => {
          const at = Date.parse(this.current?.manifest.publishedAt ?? '');
          return Number.isFinite(at) ? Math.floor(at / 1000) : 0;
        },
        health: () => ({
          ready: this.isReady(),
          closing: this.closing,
          sequence: this.current?.manifest.sequence ?? null,
        }),
        metricsText: () => this.metricsText(),
        status: () => this.status(),
        log: (entry) => this.log(entry),
        deprecation: (model, version) => this.current?.manifest.models[model]?.versions[version]?.deprecation,
      },
      {
        maxBodyBytes: options.maxBodyBytes ?? GATEWAY_DEFAULTS.maxBodyBytes,
        ...(options.apiKey === undefined ? {} : { apiKey: options.apiKey }),
      },
    );
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

  // plan (pure) → load → reconcile rollbacks → switch. Rollbacks are reconciled after loading, not
  // planned up front: a canary failing to load is rolled back, and while versions load a canary may
  // trip or an operator may clear a rollback.
  private async apply(manifest: Manifest): Promise<ApplyResult> {
    if (this.closing) throw new UserError('the gateway is closing');
    const old = this.current;
    const plan = planApply(old, manifest, this.environment, { defaultRollout: this.options.defaultRollout });
    const loaded = await this.loadVersions(plan, manifest, old === undefined);
    // Live before anything below can throw, so close() still closes them if the state cannot be saved.
    const slots = this.assembleSlots(plan, old, loaded.models);
    const router = this.newRouter(manifest);
    const { trackers, rolledBack } = this.reconcileRollbacks(plan, old, loaded.canaryFailures, router);
    const unavailable = new Map(loaded.unavailable);
    // A version still unavailable from start-up stays so until a manifest stops naming it.
    for (const w of plan.wanted) {
      const why = old?.unavailable.get(w.key);
      if (why !== undefined && !slots.has(w.key)) unavailable.set(w.key, why);
    }
    const retired = this.switchTo({ manifest, router, slots, trackers, unavailable }, old, plan);
    const loadedKeys = [...loaded.models.keys()];
    const at = new Date().toISOString();
    this.emit({
      type: 'manifest-applied',
      environment: this.environment,
      sequence: manifest.sequence,
      loaded: loadedKeys,
      retired,
      at,
    });
    // The source may now free what neither this manifest nor the one it replaced uses (one step back
    // stays cached for a quick return). A failed prune costs disk, never the switch.
    if (this.options.source.retain) {
      await this.options.source.retain(plan.retain).catch((e: unknown) =>
        this.emit({
          type: 'prune-failed',
          environment: this.environment,
          error: String((e as Error)?.message ?? e),
          at: new Date().toISOString(),
        }),
      );
    }
    return {
      sequence: manifest.sequence,
      loaded: loadedKeys,
      retired,
      rolledBack,
      unavailable: Object.fromEntries(loaded.unavailable),
    };
  }

  /** Materialises, loads and warms the plan's new versions in parallel. A champion or rollback-window
   * version that fails rejects the whole manifest, after closing what did load, except at start-up:
   * with nothing serving yet, what loaded serves and the rest are unavailable with their reason. */
  private async loadVersions(plan: ApplyPlan, manifest: Manifest, startUp: boolean): Promise<Loaded> {
    const sequence = manifest.sequence;
    const results = await Promise.allSettled(
      plan.load.map(async (w) => {
        const context = await this.loadContext(manifest, w.model, w.entry);
        // Files that fail to materialise (missing, tampered) reject the manifest even at start-up: only
        // an engine's failure to load or warm makes a version unavailable while the others serve.
        const dir = await this.options.source.materialize(w.model, w.version, w.entry).catch((e: unknown) => {
          throw Object.assign(e as object, { integrity: true });
        });
        const engine = (() => {
          try {
            return engineOf(w.entry);
          } catch {
            return String(w.entry.serving?.engine);
          }
        })();
        // Every reason names the engine: "llama.cpp: could not load model.gguf: ...".
        const named = (e: unknown) => {
          const msg = (e as Error)?.message ?? String(e);
          return msg.startsWith(`${engine}:`) ? e : new Error(`${engine}: ${msg}`);
        };
        let loaded: LoadedModel;
        try {
          loaded = await this.loaderFor(w.model, w.version, w.entry).load(dir, w.entry, context);
        } catch (e) {
          throw named(e);
        }
        try {
          await loaded.warm();
        } catch (e) {
          await loaded.close().catch(() => undefined);
          throw named(e);
        }
        return loaded;
      }),
    );
    const out: Loaded = { models: new Map(), canaryFailures: new Map(), unavailable: new Map() };
    const fatal: string[] = [];
    results.forEach((r, i) => {
      const w = plan.load[i]!;
      if (r.status === 'fulfilled') {
        out.models.set(w.key, r.value);
        return;
      }
      const why = (r.reason as Error)?.message ?? String(r.reason);
      if (w.role === 'canary') out.canaryFailures.set(w.model, why);
      else if (startUp && !(r.reason as { integrity?: boolean })?.integrity) out.unavailable.set(w.key, why);
      else fatal.push(`${w.key} (${w.role}): ${why}`);
    });
    if (fatal.length) {
      await Promise.all([...out.models.values()].map((m) => m.close().catch(() => undefined)));
      throw new UserError(
        `manifest ${sequence} not applied; routing is unchanged. Could not load:\n  ${fatal.join('\n  ')}`,
      );
    }
    return out;
  }

  /** An adapter version (its card's base relation is `adapter`) loads on its base: the version of the
   * base model the manifest deploys in this environment, materialised like any version. */
  private async loadContext(manifest: Manifest, model: string, entry: ManifestVersion): Promise<LoadContext> {
    if (entry.base?.relation !== 'adapter') return {};
    const ref = manifest.environments[this.environment]?.models[model]?.base;
    const baseEntry = ref && manifest.models[ref.model]?.versions[ref.version];
    if (!ref || !baseEntry) return {}; // the engine says what it makes of an adapter without a base
    const dir = await this.options.source.materialize(ref.model, ref.version, baseEntry).catch((e: unknown) => {
      throw Object.assign(e as object, { integrity: true });
    });
    return { base: { model: ref.model, version: ref.version, dir, entry: baseEntry } };
  }

  /** Applies the rollback decisions for the new manifest: clears voided records, records canaries
   * that failed to load, suppresses rolled-back canaries on `router`, and carries trackers over. */
  private reconcileRollbacks(
    plan: ApplyPlan,
    old: Generation | undefined,
    canaryFailures: Map<string, string>,
    router: Router,
  ): { trackers: Map<string, CanaryTracker>; rolledBack: string[] } {
    const records = this.state.state.rolledBack;
    const decided = planRollbacks(plan, { rolledBack: records, trackers: old?.trackers ?? new Map(), canaryFailures });
    for (const model of decided.clear) delete records[model];
    const at = new Date().toISOString();
    for (const r of decided.record) {
      records[r.model] = {
        canaryVersion: r.canary,
        champion: r.champion,
        reason: r.reason,
        at,
        manifestSequence: plan.sequence,
      };
      const { model, canary, champion, reason } = r;
      this.emit({
        type: 'canary-rolled-back',
        environment: this.environment,
        model,
        canary,
        champion,
        reason,
        requests: 0,
        failures: 0,
        at,
      });
      this.rollbacksTotal++;
    }
    if (decided.clear.length || decided.record.length) this.state.save();
    for (const model of decided.suppressed) router.suppressCanary(model);
    const trackers = new Map(
      decided.trackers.map((t) => [
        t.model,
        t.carryOver ? old!.trackers.get(t.model)! : new CanaryTracker(t.model, t.champion, t.canary, t.rule),
      ]),
    );
    return { trackers, rolledBack: decided.suppressed };
  }

  /** The new generation's slots: kept ones carry over, newly loaded ones become live. */
  private assembleSlots(
    plan: ApplyPlan,
    old: Generation | undefined,
    loaded: Map<string, LoadedModel>,
  ): Map<string, Slot> {
    const slots = new Map<string, Slot>();
    for (const w of plan.wanted) {
      const kept = old?.slots.get(w.key);
      if (kept) {
        slots.set(w.key, kept);
        continue;
      }
      const model = loaded.get(w.key);
      if (model) slots.set(w.key, this.pool.add(w.model, w.version, model));
    }
    return slots;
  }

  /** The switch: one assignment, after everything new is warm; then the old generation's leftovers retire. */
  private switchTo(next: Generation, old: Generation | undefined, plan: ApplyPlan): string[] {
    this.current = next;
    for (const key of plan.retire) this.pool.retire(old!.slots.get(key)!);
    return plan.retire;
  }

  private newRouter(manifest: Manifest): Router {
    return createRouter(manifest, this.environment, this.options.seed === undefined ? {} : { seed: this.options.seed });
  }

  private versionClosed(slot: Slot, error?: unknown): void {
    const at = new Date().toISOString();
    const { model, version } = slot;
    if (error === undefined) this.emit({ type: 'version-closed', environment: this.environment, model, version, at });
    else {
      const message = String((error as Error)?.message ?? error);
      this.emit({ type: 'close-failed', environment: this.environment, model, version, error: message, at });
    }
  }

  /** Forget a recorded rollback and route to the model's canary again (an operator's decision). */
  clearRollback(model: string): boolean {
    const gen = this.current;
    if (!this.state.state.rolledBack[model] || !gen) return false;
    delete this.state.state.rolledBack[model];
    this.state.save();
    const router = this.newRouter(gen.manifest);
    for (const m of Object.keys(this.state.state.rolledBack)) router.suppressCanary(m);
    const d = gen.manifest.environments[this.environment]!.models[model];
    const trackers = new Map(gen.trackers);
    if (d?.canary && gen.slots.has(slotKey(model, d.canary.version)))
      trackers.set(
        model,
        new CanaryTracker(model, d.version, d.canary.version, d.rollout ?? this.options.defaultRollout),
      );
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
    const rec: RollbackRecord = {
      canaryVersion: tracker.canary,
      champion: tracker.champion,
      reason,
      at,
      manifestSequence: gen.manifest.sequence,
    };
    this.state.state.rolledBack[model] = rec;
    this.rollbacksTotal++;
    try {
      this.state.save();
    } catch (e) {
      // Routing has already stopped; a failed write must not undo that, but it must be seen.
      this.log({ type: 'state-write-failed', path: this.state.path, error: (e as Error).message, at });
    }
    this.emit({
      type: 'canary-rolled-back',
      environment: this.environment,
      model,
      canary: tracker.canary,
      champion: tracker.champion,
      reason,
      requests: tracker.canaryWindow.requests,
      failures: tracker.canaryWindow.failures,
      at,
    });
  }

  private emit(event: GatewayEvent): void {
    this.eventLog.emit(event);
  }

  private log(obj: object): void {
    this.eventLog.log(obj);
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
  private async serve<T>(
    model: string,
    key: string | undefined,
    override: string | undefined,
    call: (m: LoadedModel, d: RouteDecision, signal: AbortSignal) => Promise<T>,
    extra: ServeExtra = {},
  ): Promise<{ value: T; decision: RouteDecision }> {
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
    if (!slot) {
      const why = gen.unavailable.get(slotKey(model, decision.version));
      throw new HttpError(
        503,
        'version-unavailable',
        `${model}@${decision.version} is not loaded${why === undefined ? '' : `: ${why}`}`,
        { retry: false, param: 'model' },
      );
    }
    const m = this.versionMetrics(model, decision.version);
    m.routed[decision.reason] = (m.routed[decision.reason] ?? 0) + 1;
    slot.inflight++;
    m.inflight++;
    const t0 = performance.now();
    let ok = false;
    let inputError = false;
    let cancelled = false;
    // The client leaving, or the bound on draining a retired version, stops the engine's work.
    const signal = extra.signal ? AbortSignal.any([extra.signal, slot.abort.signal]) : slot.abort.signal;
    try {
      const value = await call(slot.loaded, decision, signal);
      ok = true;
      return { value, decision };
    } catch (e) {
      if (e instanceof HttpError && e.status < 500) {
        inputError = true;
        throw e;
      }
      if (e instanceof InputError) {
        inputError = true;
        throw new HttpError(400, 'bad-input', e.message, e.param === undefined ? {} : { param: e.param });
      }
      if (e instanceof CallAborted || signal.aborted) {
        cancelled = true;
        const why = slot.abort.signal.aborted
          ? `${model}@${decision.version} was retired and its drain bound ran out`
          : 'the client closed the request';
        throw new HttpError(503, 'cancelled', why, { retry: slot.abort.signal.aborted });
      }
      // A retry cannot help: the version failed, and each retry would count against its canary rule.
      throw new HttpError(
        502,
        'model-error',
        `${model}@${decision.version} failed: ${(e as Error)?.message ?? String(e)}`,
        { retry: false },
      );
    } finally {
      const seconds = (performance.now() - t0) / 1000;
      slot.inflight--;
      m.inflight--;
      this.pool.release(slot);
      if (inputError) m.rejected++;
      else if (cancelled) m.cancelled++;
      else {
        m.requests++;
        if (ok) m.latency.observe(seconds);
        else m.errors++;
        // A client's retry of a request already counted is not a second observation for the canary rule.
        const tracker = extra.retry ? undefined : gen.trackers.get(model);
        const reason = tracker?.observe(decision.version, ok, seconds);
        if (reason && tracker) this.trip(model, tracker, reason);
      }
    }
  }

  /** In-process prediction through routing (what the HTTP handler does, without HTTP). */
  async predict(
    model: string,
    inputs: unknown,
    options: { key?: string; override?: string } = {},
  ): Promise<{ version: string; reason: string; outputs: unknown }> {
    const { value, decision } = await this.serve(model, options.key, options.override, (m, _d, signal) =>
      m.predict(inputs, { signal }),
    );
    return { version: decision.version, reason: decision.reason, outputs: value };
  }
  // ---- observability ----------------------------------------------------------------------------

  metricsText(): string {
    const gen = this.current;
    return renderGatewayMetrics({
      versions: [...this.metrics.values()],
      deployments: gen?.manifest.environments[this.environment]?.models ?? {},
      isLoaded: (model, version) => gen?.slots.has(slotKey(model, version)) ?? false,
      rolledBackCanary: (model) => this.state.state.rolledBack[model]?.canaryVersion,
      rollbacksTotal: this.rollbacksTotal,
      sequence: gen?.manifest.sequence ?? 0,
    });
  }

  status(): GatewayStatus {
    const gen = this.current;
    return describeStatus({
      environment: this.environment,
      ready: this.isReady(),
      generation: gen && {
        manifest: gen.manifest,
        seed: gen.router.seed,
        isLoaded: (model, version) => gen.slots.has(slotKey(model, version)),
        trackers: gen.trackers,
        engineOf: (model, version) => gen.slots.get(slotKey(model, version))?.loaded.info,
        unavailable: (model, version) => gen.unavailable.get(slotKey(model, version)),
      },
      rolledBack: this.state.state.rolledBack,
      metricsOf: (model, version) => this.metrics.get(slotKey(model, version))?.m,
      defaultRollout: this.options.defaultRollout,
      rollbacks: this.events
        .filter((e): e is RollbackEvent => e.type === 'canary-rolled-back')
        .slice(-STATUS_ROLLBACKS),
    });
  }

  private isReady(): boolean {
    return this.current !== undefined && !this.closing;
  }

  // ---- lifecycle --------------------------------------------------------------------------------

  /** Serves HTTP. `limits` override GATEWAY_DEFAULTS' HTTP limits (timeouts, connection cap, body
   * limit over GatewayOptions.maxBodyBytes) for this server and the request handler alike. */
  listen(port = 0, host: string = GATEWAY_DEFAULTS.host, limits: Partial<HttpLimits> = {}): Promise<ListenAddress> {
    const server = createHttpServer(this.handle, limits);
    this.server = server;
    return listenHttp(server, port, host);
  }

  /** Stop accepting requests, let in-flight ones finish, close every version. */
  async close(): Promise<void> {
    this.closing = true;
    await this.applying;
    if (this.server) await closeHttp(this.server);
    // Slots still running in-process predictions close when those finish.
    await this.pool.closeAll();
  }
}

/** What the HTTP layer passes with a call: the client's signal, and whether this is a client's retry. */
export interface ServeExtra {
  signal?: AbortSignal;
  retry?: boolean;
}

export function createGateway(options: GatewayOptions): Gateway {
  return new Gateway(options);
}
