// The gateway's HTTP layer over its in-process core (gateway.ts): the routes, bounded JSON bodies,
// JSON answers (errors as `{error: {code, message}}`), and the node:http server's lifecycle. It
// decides nothing about versions: every prediction goes through the core's `serve`.
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RouteDecision } from '../manifest/routing.ts';
import { InputError, type LoadedModel, type OpenAIKind } from './loaders.ts';

/** An HTTP error with a JSON body `{error: {code, message}}`. The core throws it too, so an in-process
 * caller of predict() sees the same status and code an HTTP client would. */
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

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** What the HTTP layer needs of the core. The gateway hands one over; its serving methods stay private. */
export interface GatewayCore {
  readonly environment: string;
  /** Routes one call to a version and runs it, reference counted and measured; throws HttpError. */
  serve<T>(
    model: string,
    key: string | undefined,
    override: string | undefined,
    call: (m: LoadedModel, d: RouteDecision) => Promise<T>,
  ): Promise<{ value: T; decision: RouteDecision }>;
  /** The models the current manifest deploys (none before the first is applied). */
  models(): string[];
  health(): { ready: boolean; closing: boolean; sequence: number | null };
  metricsText(): string;
  status(): object;
  /** Writes one JSON log line (an internal error, with its stack). */
  log(entry: object): void;
}

export interface HttpOptions {
  maxBodyBytes: number;
}

const PREDICT_PATH = /^\/v1\/models\/([^/]+)\/predict$/;

export function createRequestHandler(core: GatewayCore, options: HttpOptions): RequestHandler {
  return (req, res) => {
    dispatch(core, options, req, res).catch((e: unknown) => {
      const err =
        e instanceof HttpError
          ? e
          : new HttpError(500, 'internal', `internal error: ${(e as Error)?.message ?? String(e)}`);
      if (!(e instanceof HttpError))
        core.log({ type: 'internal-error', error: String((e as Error)?.stack ?? e), at: new Date().toISOString() });
      if (res.headersSent) {
        res.destroy();
        return;
      }
      sendJson(res, err.status, { error: { code: err.code, message: err.message } });
    });
  };
}

async function dispatch(
  core: GatewayCore,
  options: HttpOptions,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const path = (req.url ?? '/').split('?')[0]!;
  const predict = PREDICT_PATH.exec(path);
  if (predict) {
    requireMethod(req, 'POST');
    let model: string;
    try {
      model = decodeURIComponent(predict[1]!);
    } catch {
      throw new HttpError(400, 'bad-path', 'the model name in the path is not valid percent-encoding');
    }
    await predictRoute(core, model, await readJson(req, options.maxBodyBytes), req, res);
    return;
  }
  if (path === '/v1/chat/completions' || path === '/v1/completions') {
    requireMethod(req, 'POST');
    const kind: OpenAIKind = path === '/v1/chat/completions' ? 'chat/completions' : 'completions';
    await openAIRoute(core, kind, await readJson(req, options.maxBodyBytes), req, res);
    return;
  }
  if (path === '/v1/models') {
    requireMethod(req, 'GET');
    sendJson(res, 200, {
      object: 'list',
      data: core.models().map((id) => ({ id, object: 'model', owned_by: 'model-gitops' })),
    });
    return;
  }
  if (path === '/metrics') {
    requireMethod(req, 'GET');
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
    res.end(core.metricsText());
    return;
  }
  if (path === '/healthz') {
    requireMethod(req, 'GET');
    const { ready, closing, sequence } = core.health();
    sendJson(res, ready ? 200 : 503, {
      status: ready ? 'ok' : closing ? 'closing' : 'no manifest applied',
      environment: core.environment,
      sequence,
    });
    return;
  }
  if (path === '/status') {
    requireMethod(req, 'GET');
    sendJson(res, 200, core.status());
    return;
  }
  throw new HttpError(404, 'not-found', `no route for ${req.method} ${path}; try POST /v1/models/<model>/predict`);
}

/** POST /v1/models/<model>/predict with `{"inputs": ...}`. */
async function predictRoute(
  core: GatewayCore,
  model: string,
  body: unknown,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  if (typeof body !== 'object' || body === null || Array.isArray(body) || !('inputs' in body))
    throw new HttpError(400, 'bad-request', 'the body must be a JSON object with "inputs"');
  const { value, decision } = await core.serve(
    model,
    header(req, 'x-routing-key'),
    header(req, 'x-model-version'),
    (m) => m.predict((body as { inputs: unknown }).inputs),
  );
  setRouteHeaders(res, decision);
  sendJson(res, 200, { model, version: decision.version, reason: decision.reason, outputs: value });
}

/** The OpenAI-compatible endpoints, for proxied versions. The body's `user` is the routing key when
 * no x-routing-key header names one. */
async function openAIRoute(
  core: GatewayCore,
  kind: OpenAIKind,
  body: unknown,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  if (
    typeof body !== 'object' ||
    body === null ||
    Array.isArray(body) ||
    typeof (body as { model?: unknown }).model !== 'string'
  ) {
    throw new HttpError(400, 'bad-request', 'the body must be a JSON object with a "model" string');
  }
  const b = body as Record<string, unknown> & { model: string; user?: unknown };
  const key = header(req, 'x-routing-key') ?? (typeof b.user === 'string' ? b.user : undefined);
  const { value, decision } = await core.serve(b.model, key, header(req, 'x-model-version'), async (m, d) => {
    if (!m.openai)
      throw new InputError(
        `${b.model}@${d.version} is not served through an OpenAI-compatible endpoint; use /v1/models/${b.model}/predict`,
      );
    const r = await m.openai(kind, b);
    // A 5xx is the version's failure (counted, may trip the rollback); a 4xx is passed through.
    if (r.status >= 500) throw new Error(`upstream answered HTTP ${r.status}: ${JSON.stringify(r.body).slice(0, 300)}`);
    return r;
  });
  setRouteHeaders(res, decision);
  const out = value.body;
  // Answer with the name the client asked for, not the upstream's internal model id.
  if (typeof out === 'object' && out !== null && typeof (out as { model?: unknown }).model === 'string')
    (out as { model: string }).model = b.model;
  sendJson(res, value.status, out);
}

function setRouteHeaders(res: ServerResponse, decision: RouteDecision): void {
  res.setHeader('x-served-version', decision.version);
  res.setHeader('x-route-reason', decision.reason);
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined || s === '' ? undefined : s;
}

function requireMethod(req: IncomingMessage, method: string): void {
  if (req.method !== method)
    throw new HttpError(405, 'method-not-allowed', `${req.url} accepts ${method} only, not ${req.method}`);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** An oversized body is read and dropped up to this many times the limit (at least MIN_DRAIN_BYTES). */
const DRAIN_FACTOR = 16;
const MIN_DRAIN_BYTES = 16 * 1024 * 1024;

/** Reads a JSON body of at most `limit` bytes. An oversized body is drained (up to a cap) so the
 * client reliably reads the 413 instead of a connection reset; beyond the cap the socket is cut. */
async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = declared > limit;
  const drainCap = Math.max(limit * DRAIN_FACTOR, MIN_DRAIN_BYTES);
  await new Promise<void>((resolve, reject) => {
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) tooLarge = true;
      if (tooLarge) {
        chunks.length = 0;
        if (size > drainCap) {
          req.destroy();
          reject(new HttpError(413, 'body-too-large', `the request body exceeds ${limit} bytes`));
        }
        return;
      }
      chunks.push(c);
    });
    req.on('end', resolve);
    req.on('error', reject);
    // A client that disconnects mid-body must not leave this promise (and its request) pending.
    req.on('close', () => {
      if (!req.complete)
        reject(new HttpError(400, 'aborted', 'the client closed the connection before sending the whole body'));
    });
  });
  if (tooLarge) throw new HttpError(413, 'body-too-large', `the request body exceeds ${limit} bytes`);
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (e) {
    throw new HttpError(400, 'bad-json', `the request body is not valid JSON: ${(e as Error).message}`);
  }
}

// ---- the server -----------------------------------------------------------------------------------

const KEEP_ALIVE_TIMEOUT_MS = 5_000;
/** While closing, how often connections that went idle are closed. */
const IDLE_SWEEP_MS = 20;

export interface ListenAddress {
  host: string;
  port: number;
  url: string;
}

export function createHttpServer(handler: RequestHandler): Server {
  return createServer({ keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS }, handler);
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
