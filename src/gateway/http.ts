// The gateway's HTTP layer over its in-process core (gateway.ts): the routes, bounded JSON bodies,
// JSON answers (errors as OpenAI's `{error: {message, type, param, code}}`), streamed answers as SSE
// (written as fast as the client reads; a client that leaves aborts the engine's work), the limits that keep slow or hostile clients
// from holding the server (timeouts, a connection cap, a body limit answered before the body is read)
// and the node:http server's lifecycle. It decides nothing about versions: every prediction goes
// through the core's `serve`.
import { type ManifestDeprecation, deprecationHeaders } from '../manifest/deprecation.ts';
import { timingSafeEqual } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { RouteDecision } from '../manifest/routing.ts';
import { CallAborted, InputError, type LoadedModel, type OpenAIChunk, type OpenAIKind, isStream } from './loaders.ts';
import { type HttpLimits, httpLimits, HttpStats, httpMetricsText } from './http-limits.ts';

export { HttpStats, httpLimits, httpMetricsText, type HttpLimits } from './http-limits.ts';
import {
  deploymentsOf,
  feedbackAnswer,
  Observations,
  observeCompletion,
  observePrediction,
  observeStreamEnd,
  REQUEST_ID_HEADER,
} from './observations.ts';

/** An HTTP error with a JSON body `{error: {message, type, param, code}}`. The core throws it too, so an
 * in-process caller of predict() sees the same status and code an HTTP client would. It is an answer,
 * not a bug: it carries no stack (capturing one per refused request is most of what a refusal would
 * cost). `retry: false` answers `x-should-retry: false` (the OpenAI clients honour it): retrying a
 * version's failure cannot help and would count against its canary rule again. */
export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  readonly param: string | null;
  readonly retry: boolean | undefined;
  constructor(status: number, code: string, message: string, options: { param?: string; retry?: boolean } = {}) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = limit;
    this.name = 'HttpError';
    this.status = status;
    this.code = code;
    this.param = options.param ?? null;
    this.retry = options.retry;
  }

  /** OpenAI's error type for the status. */
  get type(): string {
    if (this.status === 401) return 'authentication_error';
    if (this.status === 404) return 'not_found_error';
    if (this.status === 429) return 'rate_limit_error';
    return this.status >= 500 ? 'server_error' : 'invalid_request_error';
  }

  toJSON(): { error: { message: string; type: string; param: string | null; code: string } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** What the HTTP layer needs of the core. The gateway hands one over; its serving methods stay private. */
export interface GatewayCore {
  readonly environment: string;
  /** Routes one call to a version and runs it, reference counted and measured; throws HttpError.
   * `signal` (the client's, combined with the version's drain bound) goes to the engine. */
  serve<T>(
    model: string,
    key: string | undefined,
    override: string | undefined,
    call: (m: LoadedModel, d: RouteDecision, signal: AbortSignal) => Promise<T>,
    extra?: { signal?: AbortSignal; retry?: boolean },
  ): Promise<{ value: T; decision: RouteDecision }>;
  /** The models the current manifest deploys (none before the first is applied). */
  models(): string[];
  /** Unix seconds of the current manifest's publication (OpenAI's `created` of a model). */
  created?(): number;
  health(): { ready: boolean; closing: boolean; sequence: number | null };
  metricsText(): string;
  status(): object;
  /** Writes one JSON log line (an internal error, with its stack). */
  log(entry: object): void;
  /** The current manifest's deprecation of a version, if any (answers from it carry Deprecation headers). */
  deprecation?(model: string, version: string): ManifestDeprecation | undefined;
}

/** The request listener, with the limits it reads on every request and the counters it keeps. */
export interface GatewayRequestHandler extends RequestHandler {
  readonly limits: HttpLimits;
  readonly stats: HttpStats;
  /** Per-version output/input distributions and the feedback of answered requests (./observations.ts). */
  readonly observations: Observations;
}

const PREDICT_PATH = /^\/v1\/models\/([^/]+)\/predict$/;
const MODEL_PATH = /^\/v1\/models\/([^/]+)$/;

/** Options of the request handler beyond the HTTP limits. */
export interface HandlerOptions {
  /** When set, /v1/* requests need `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Where answers are counted and feedback kept; default a new one (see src/observe/observations.ts). */
  observations?: Observations;
}

/** The core's routes behind HTTP. `options` override GATEWAY_DEFAULTS; createHttpServer may set more. */
export function createRequestHandler(
  core: GatewayCore,
  options: Partial<HttpLimits> & HandlerOptions = {},
): GatewayRequestHandler {
  const { apiKey, observations: given, ...limitOptions } = options;
  const observations = given ?? new Observations();
  const limits = httpLimits(limitOptions);
  const stats = new HttpStats();
  const handler: RequestHandler = (req, res) => {
    // A connection that closes before the answer is complete: the client left. Counted, never
    // logged: it is the client's doing, not the gateway's. (When node:http's own request timeout
    // closed it, the server counts a timeout instead.) Its signal stops the engine's generation.
    const gone = new AbortController();
    res.once('close', () => {
      if (res.writableFinished) return;
      if (!timedOut(req.socket)) stats.clientAborts++;
      gone.abort(new CallAborted('the client closed the connection'));
    });
    dispatch(core, limits, stats, req, res, gone.signal, apiKey, observations).catch((e: unknown) =>
      fail(core, limits, stats, req, res, e),
    );
  };
  return Object.assign(handler, { limits, stats, observations });
}

function fail(
  core: GatewayCore,
  limits: HttpLimits,
  stats: HttpStats,
  req: IncomingMessage,
  res: ServerResponse,
  e: unknown,
): void {
  if (e instanceof ClientGone) return; // nobody to answer; counted when the response closed
  const err =
    e instanceof HttpError
      ? e
      : new HttpError(500, 'internal', `internal error: ${(e as Error)?.message ?? String(e)}`);
  if (!(e instanceof HttpError))
    core.log({ type: 'internal-error', error: String((e as Error)?.stack ?? e), at: new Date().toISOString() });
  if (res.writableEnded) return; // a stream that already wrote its error event
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  if (err.status === 408) stats.requestTimeouts++;
  if (err.retry !== undefined) res.setHeader('x-should-retry', String(err.retry));
  sendJson(req, res, limits, err.status, err.toJSON());
}

/** The client closed the connection (or a server timeout did) before its body was complete. Not an
 * Error: there is nothing to report and no stack worth capturing. */
class ClientGone {}

/** Whether node:http's own headers or request timeout closed this connection. */
function timedOut(socket: Socket | null | undefined): boolean {
  return (socket?.errored as NodeJS.ErrnoException | null | undefined)?.code === 'ERR_HTTP_REQUEST_TIMEOUT';
}

async function dispatch(
  core: GatewayCore,
  limits: HttpLimits,
  stats: HttpStats,
  req: IncomingMessage,
  res: ServerResponse,
  signal: AbortSignal,
  apiKey: string | undefined,
  observations: Observations,
): Promise<void> {
  const path = (req.url ?? '/').split('?')[0]!;
  if (apiKey !== undefined && path.startsWith('/v1/')) requireApiKey(req, apiKey);
  const predict = PREDICT_PATH.exec(path);
  if (predict) {
    requireMethod(req, 'POST');
    let model: string;
    try {
      model = decodeURIComponent(predict[1]!);
    } catch {
      throw new HttpError(400, 'bad-path', 'the model name in the path is not valid percent-encoding');
    }
    await predictRoute(core, limits, model, await readJson(req, limits), req, res, signal, observations);
    return;
  }
  if (path === '/v1/chat/completions' || path === '/v1/completions') {
    requireMethod(req, 'POST');
    const kind: OpenAIKind = path === '/v1/chat/completions' ? 'chat/completions' : 'completions';
    await openAIRoute(core, limits, kind, await readJson(req, limits), req, res, signal, observations);
    return;
  }
  if (path === '/v1/models') {
    requireMethod(req, 'GET');
    const created = core.created?.() ?? 0;
    sendJson(req, res, limits, 200, { object: 'list', data: core.models().map((id) => modelObject(id, created)) });
    return;
  }
  const one = MODEL_PATH.exec(path);
  if (one) {
    requireMethod(req, 'GET');
    let id: string;
    try {
      id = decodeURIComponent(one[1]!);
    } catch {
      throw new HttpError(400, 'bad-path', 'the model name in the path is not valid percent-encoding');
    }
    if (!core.models().includes(id))
      throw new HttpError(404, 'model_not_found', `the model ${JSON.stringify(clip(id))} is not deployed here`, {
        param: 'model',
      });
    sendJson(req, res, limits, 200, modelObject(id, core.created?.() ?? 0));
    return;
  }
  if (path === '/v1/feedback') {
    requireMethod(req, 'POST');
    const a = feedbackAnswer(observations, await readJson(req, limits));
    if (a.status !== 200)
      throw new HttpError(a.status, a.code, a.message, { ...(a.param ? { param: a.param } : {}), retry: false });
    sendJson(req, res, limits, 200, a.body);
    return;
  }
  if (path === '/v1/observations') {
    requireMethod(req, 'GET');
    sendJson(req, res, limits, 200, observations.snapshot(deploymentsOf(core.status())));
    return;
  }
  if (path === '/metrics') {
    requireMethod(req, 'GET');
    closeIfBodyUnread(req, res, limits);
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
    res.end(core.metricsText() + httpMetricsText(stats));
    return;
  }
  if (path === '/healthz') {
    requireMethod(req, 'GET');
    const { ready, closing, sequence } = core.health();
    sendJson(req, res, limits, ready ? 200 : 503, {
      status: ready ? 'ok' : closing ? 'closing' : 'no manifest applied',
      environment: core.environment,
      sequence,
    });
    return;
  }
  if (path === '/status') {
    requireMethod(req, 'GET');
    sendJson(req, res, limits, 200, core.status());
    return;
  }
  throw new HttpError(
    404,
    'not-found',
    `no route for ${req.method} ${clip(path)}; try POST /v1/models/<model>/predict`,
  );
}

/** POST /v1/models/<model>/predict with `{"inputs": ...}`. */
async function predictRoute(
  core: GatewayCore,
  limits: HttpLimits,
  model: string,
  body: unknown,
  req: IncomingMessage,
  res: ServerResponse,
  signal: AbortSignal,
  observations: Observations,
): Promise<void> {
  if (typeof body !== 'object' || body === null || Array.isArray(body) || !('inputs' in body))
    throw new HttpError(400, 'bad-request', 'the body must be a JSON object with "inputs"');
  const { value, decision } = await core.serve(
    model,
    header(req, 'x-routing-key'),
    header(req, 'x-model-version'),
    (m, _d, s) => m.predict((body as { inputs: unknown }).inputs, { signal: s }),
    { signal, retry: isRetry(req) },
  );
  setRouteHeaders(res, decision, core.deprecation?.(model, decision.version));
  const inputs = (body as { inputs: unknown }).inputs;
  res.setHeader(REQUEST_ID_HEADER, observePrediction(observations, model, decision.version, inputs, value));
  sendJson(req, res, limits, 200, { model, version: decision.version, reason: decision.reason, outputs: value });
}

/** The OpenAI-compatible endpoints. The body's `user` is the routing key when no x-routing-key header
 * names one. `"stream": true` answers SSE: each chunk is written as the engine produces it (the first
 * one at once), the next is taken only when the socket has drained, and the version's reference is
 * held until the stream ends, so a swap drains open streams (within GatewayOptions.drainTimeoutMs). */
async function openAIRoute(
  core: GatewayCore,
  limits: HttpLimits,
  kind: OpenAIKind,
  body: unknown,
  req: IncomingMessage,
  res: ServerResponse,
  signal: AbortSignal,
  observations: Observations,
): Promise<void> {
  if (
    typeof body !== 'object' ||
    body === null ||
    Array.isArray(body) ||
    typeof (body as { model?: unknown }).model !== 'string'
  ) {
    throw new HttpError(400, 'bad-request', 'the body must be a JSON object with a "model" string', {
      param: 'model',
    });
  }
  const b = body as Record<string, unknown> & { model: string; user?: unknown };
  const key = header(req, 'x-routing-key') ?? (typeof b.user === 'string' ? b.user : undefined);
  let streamed = false;
  try {
    const { value, decision } = await core.serve(
      b.model,
      key,
      header(req, 'x-model-version'),
      async (m, d, s) => {
        if (!m.openai)
          throw new InputError(
            `${b.model}@${d.version} is not served through an OpenAI-compatible endpoint; use /v1/models/${b.model}/predict`,
          );
        const r = await m.openai(kind, b, { signal: s });
        if (isStream(r)) {
          streamed = true;
          setRouteHeaders(res, d, core.deprecation?.(b.model, d.version));
          res.setHeader(REQUEST_ID_HEADER, observations.issue(b.model, d.version));
          const end = await writeStream(res, r.stream, b.model, s);
          observeStreamEnd(observations, b.model, d.version, b, end);
          return r;
        }
        // A 5xx is the version's failure (counted, may trip the rollback); a 4xx is passed through.
        if (r.status >= 500)
          throw new Error(`upstream answered HTTP ${r.status}: ${JSON.stringify(r.body).slice(0, 300)}`);
        return r;
      },
      { signal, retry: isRetry(req) },
    );
    if (isStream(value)) return;
    setRouteHeaders(res, decision, core.deprecation?.(b.model, decision.version));
    const out = value.body;
    if (value.status < 400)
      res.setHeader(REQUEST_ID_HEADER, observeCompletion(observations, b.model, decision.version, b, out));
    // Answer with the name the client asked for, not the upstream's internal model id.
    if (typeof out === 'object' && out !== null && typeof (out as { model?: unknown }).model === 'string')
      (out as { model: string }).model = b.model;
    sendJson(req, res, limits, value.status, out);
  } catch (e) {
    // A stream that failed after its headers: the error goes out as the last event, then the stream ends.
    if (streamed && e instanceof HttpError && !res.destroyed && !res.writableEnded) {
      res.end(`data: ${JSON.stringify(e.toJSON())}\n\n`);
      return;
    }
    throw e;
  }
}

/** Writes chunks as SSE with backpressure; throws CallAborted when the client leaves. */
async function writeStream(
  res: ServerResponse,
  stream: AsyncIterable<OpenAIChunk>,
  model: string,
  signal: AbortSignal,
): Promise<{ finish: string | undefined; completionTokens: number | undefined }> {
  let finish: string | undefined;
  let completionTokens: number | undefined;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-accel-buffering': 'no', // proxies (nginx) must not hold chunks back
  });
  res.flushHeaders(); // the client learns the served version before the first token is ready
  for await (const chunk of stream) {
    if (signal.aborted) throw new CallAborted();
    if (typeof chunk.model === 'string') chunk.model = model;
    const c = chunk as { choices?: { finish_reason?: unknown }[]; usage?: { completion_tokens?: unknown } | null };
    const reason = c.choices?.[0]?.finish_reason;
    if (typeof reason === 'string') finish = reason;
    const tokens = c.usage?.completion_tokens;
    if (typeof tokens === 'number' && tokens >= 0) completionTokens = tokens;
    if (!res.write(`data: ${JSON.stringify(chunk)}\n\n`)) await drained(res, signal);
  }
  if (signal.aborted) throw new CallAborted();
  res.end('data: [DONE]\n\n');
  return { finish, completionTokens };
}

function drained(res: ServerResponse, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = () => {
      res.off('drain', done);
      signal.removeEventListener('abort', gone);
      resolve();
    };
    const gone = () => {
      res.off('drain', done);
      reject(new CallAborted());
    };
    res.on('drain', done);
    signal.addEventListener('abort', gone, { once: true });
  });
}

function modelObject(id: string, created: number): { id: string; object: 'model'; created: number; owned_by: string } {
  return { id, object: 'model', created, owned_by: 'model-gitops' };
}

/** The OpenAI clients number their retries (x-stainless-retry-count); a retry is not counted again. */
function isRetry(req: IncomingMessage): boolean {
  const n = Number(header(req, 'x-stainless-retry-count') ?? 0);
  return Number.isFinite(n) && n > 0;
}

function requireApiKey(req: IncomingMessage, apiKey: string): void {
  const auth = header(req, 'authorization');
  const given = auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
  if (given === undefined)
    throw new HttpError(401, 'missing_api_key', 'this gateway needs an API key: send Authorization: Bearer <key>', {
      retry: false,
    });
  const a = Buffer.from(given);
  const b = Buffer.from(apiKey);
  if (a.length !== b.length || !timingSafeEqual(a, b))
    throw new HttpError(401, 'invalid_api_key', 'the API key is not valid for this gateway', { retry: false });
}

/** THE place response headers for a served version are set, plain and streamed answers alike:
 * x-served-version, x-route-reason, and the version's deprecation headers. */
function setRouteHeaders(res: ServerResponse, decision: RouteDecision, deprecation?: ManifestDeprecation): void {
  res.setHeader('x-served-version', decision.version);
  res.setHeader('x-route-reason', decision.reason);
  for (const [name, value] of Object.entries(deprecationHeaders(deprecation))) res.setHeader(name, value);
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined || s === '' ? undefined : s;
}

function requireMethod(req: IncomingMessage, method: string): void {
  if (req.method !== method)
    throw new HttpError(405, 'method-not-allowed', `${clip(req.url ?? '/')} accepts ${method} only, not ${req.method}`);
}

/** A path or URL as an error message quotes it: at most 200 characters. */
const clip = (s: string): string => (s.length > 200 ? `${s.slice(0, 200)}…` : s);

function sendJson(req: IncomingMessage, res: ServerResponse, limits: HttpLimits, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  closeIfBodyUnread(req, res, limits);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

// ---- request bodies -------------------------------------------------------------------------------

/** The Content-Length a request declares; undefined when it has none. */
function declaredLength(req: IncomingMessage): number | undefined {
  const v = req.headers['content-length'];
  if (v === undefined) return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** Whether the request carries a body (a positive Content-Length, or chunked). */
function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || (declaredLength(req) ?? 0) > 0;
}

/** `application/json`, any case, with optional parameters; a charset, if given, must be UTF-8 (the
 * only encoding JSON has, RFC 8259). */
export function isJsonContentType(value: string | undefined): boolean {
  if (value === undefined) return false;
  const [type, ...params] = value.split(';');
  if (type!.trim().toLowerCase() !== 'application/json') return false;
  for (const p of params) {
    const eq = p.indexOf('=');
    if (eq < 0 || p.slice(0, eq).trim().toLowerCase() !== 'charset') continue;
    const charset = p
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .toLowerCase();
    if (charset !== 'utf-8' && charset !== 'utf8') return false;
  }
  return true;
}

const tooLarge = (limits: HttpLimits) =>
  new HttpError(413, 'body-too-large', `the request body exceeds ${limits.maxBodyBytes} bytes`);

/** Reads a JSON body of at most `limits.maxBodyBytes`. Refused from the headers alone when they tell
 * enough (a Content-Type other than JSON: 415; a declared length over the limit: 413, before a byte of
 * the body is read); else 413 as soon as a streamed body passes the limit, 408 when it takes longer
 * than bodyTimeoutMs. A refused body is left unread and the answer closes the connection
 * (closeIfBodyUnread). A client that disconnects mid-body rejects with ClientGone. */
async function readJson(req: IncomingMessage, limits: HttpLimits): Promise<unknown> {
  if (hasBody(req) && !isJsonContentType(req.headers['content-type'])) {
    const got = req.headers['content-type'];
    throw new HttpError(
      415,
      'unsupported-media-type',
      `send the body as JSON with Content-Type: application/json (got ${got === undefined ? 'no Content-Type' : JSON.stringify(clip(got))})`,
    );
  }
  if ((declaredLength(req) ?? 0) > limits.maxBodyBytes) throw tooLarge(limits);
  const body = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const settle = (error: unknown, value?: Buffer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onGone);
      req.off('close', onClose);
      if (error === undefined) resolve(value!);
      else reject(error);
    };
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limits.maxBodyBytes) {
        chunks.length = 0; // hold nothing of a refused body
        settle(tooLarge(limits));
        return;
      }
      chunks.push(c);
    };
    const onEnd = () => settle(undefined, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    // A client that hangs up mid-body: `error` (ECONNRESET "aborted"), then `close`.
    const onGone = () => settle(new ClientGone());
    const onClose = () => {
      if (!req.complete) onGone();
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onGone);
    req.on('close', onClose);
    if (limits.bodyTimeoutMs > 0 && !settled) {
      const ms = limits.bodyTimeoutMs;
      timer = setTimeout(
        () => settle(new HttpError(408, 'body-timeout', `the request body did not arrive within ${ms} ms`)),
        ms,
      );
    }
  });
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw new HttpError(400, 'bad-json', `the request body is not valid JSON: ${(e as Error).message}`);
  }
}

/**
 * Called before every answer. When the request's body is not read whole and is (or may be) larger
 * than the body limit, Node would read all of it after the answer to keep the connection alive:
 * unbounded work for a 20 MB or an endless chunked body. Instead the answer says `Connection: close`
 * and the connection closes lingeringly: after the answer the gateway half-closes (FIN), keeps
 * reading and dropping what the client still sends (at most lingerBytes; then it stops reading and
 * TCP holds the rest back), and destroys the socket once the client has sent everything, or after
 * lingerMs. Closing at once would answer a client that is still sending with a reset (RST), and a
 * reset can make the client's TCP drop the answer before the client has read it.
 * A small unread body (declared, within the limit) is left to Node to drain, keeping the connection.
 */
function closeIfBodyUnread(req: IncomingMessage, res: ServerResponse, limits: HttpLimits): void {
  if (req.readableEnded || !hasBody(req)) return;
  const declared = declaredLength(req);
  if (declared !== undefined && declared <= limits.maxBodyBytes && !req.readableDidRead) return;
  const socket = req.socket as Socket | null;
  if (!socket || socket.destroyed) return;
  res.setHeader('connection', 'close'); // Node then closes with socket.destroySoon() after the answer
  let dropped = 0;
  req.on('data', (c: Buffer) => {
    dropped += c.length;
    if (dropped >= limits.lingerBytes) req.pause();
  });
  req.on('error', () => undefined); // the client leaving now is expected
  req.resume();
  // destroySoon() (net.Socket: destroy once everything is written) is how Node's server closes a
  // connection after its last answer; for this one socket it becomes the lingering close.
  socket.destroySoon = () => {
    if (socket.writable) socket.end();
    const timer = setTimeout(() => socket.destroy(), limits.lingerMs);
    const done = () => {
      if (socket.writableFinished && (req.readableEnded || req.destroyed)) socket.destroy();
    };
    socket.once('close', () => clearTimeout(timer));
    socket.once('finish', done);
    req.once('end', done);
    done();
  };
}

// ---- the server -----------------------------------------------------------------------------------

/** While closing, how often connections that went idle are closed. */
const IDLE_SWEEP_MS = 20;

export interface ListenAddress {
  host: string;
  port: number;
  url: string;
}

/**
 * A node:http server for `handler` under `limits`, over GATEWAY_DEFAULTS and, for a handler from
 * createRequestHandler, over the limits that handler was made with (which it then reads too, so the
 * server and the handler always apply the same ones).
 */
export function createHttpServer(handler: RequestHandler, limits: Partial<HttpLimits> = {}): Server {
  const own = handler as Partial<GatewayRequestHandler>;
  const l = httpLimits({ ...own.limits, ...definedOnly(limits) });
  if (own.limits) Object.assign(own.limits, l);
  const server = createServer(
    {
      headersTimeout: l.headersTimeoutMs,
      requestTimeout: l.requestTimeoutMs,
      keepAliveTimeout: l.keepAliveTimeoutMs,
      maxHeaderSize: l.maxHeaderBytes,
      // Node checks those two timeouts every connectionsCheckingInterval (30 s by default, which lets
      // a slow client stay up to 30 s past them): check at a quarter of the shorter one, at most 1 s.
      connectionsCheckingInterval: checkInterval(l),
    },
    handler,
  );
  server.maxConnections = l.maxConnections;
  server.timeout = l.idleTimeoutMs;
  const stats = own.stats;
  if (stats) {
    server.on('drop', () => stats.connectionsDropped++);
    // node:http answers its own headers and request timeouts (408, then close): count them.
    server.on('connection', (socket: Socket) =>
      socket.once('close', () => {
        if (timedOut(socket)) stats.requestTimeouts++;
      }),
    );
  }
  // `Expect: 100-continue`: invite the body only when it can be accepted; a declared length over the
  // limit gets its 413 without the client ever sending the body.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    if ((declaredLength(req) ?? 0) <= l.maxBodyBytes) res.writeContinue();
    handler(req, res);
  });
  return server;
}

function definedOnly(o: Partial<HttpLimits>): Partial<HttpLimits> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

function checkInterval(l: HttpLimits): number {
  const shortest = Math.min(...[l.headersTimeoutMs, l.requestTimeoutMs].filter((t) => t > 0));
  return Number.isFinite(shortest) ? Math.max(25, Math.min(1_000, Math.floor(shortest / 4))) : 30_000;
}

export async function listenHttp(server: Server, port: number, host: string): Promise<ListenAddress> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const a = server.address() as AddressInfo;
  const h = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return { host: a.address, port: a.port, url: `http://${h}:${a.port}` };
}

/** Stops accepting connections and resolves once every open one has finished its last response. */
export async function closeHttp(server: Server): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  // Keep-alive connections become idle as their last response ends: close them as they do.
  const idle = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS);
  try {
    await closed;
  } finally {
    clearInterval(idle);
  }
}
