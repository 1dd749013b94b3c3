// Talking to an OpenAI-compatible HTTP server (external servers, managed vLLM, Ollama, the PyTorch
// worker): bounded JSON answers, streamed answers re-read as SSE with backpressure (the upstream body
// is read only as fast as the client takes it), and the caller's abort signal on every request.
import { GATEWAY_DEFAULTS } from '../defaults.ts';
import {
  CallAborted,
  type CallContext,
  InputError,
  type OpenAIChunk,
  type OpenAIKind,
  type OpenAIResult,
  predictMessages,
} from './engine.ts';

export interface UpstreamOptions {
  /** Per upstream request. Default GATEWAY_DEFAULTS.proxyTimeoutMs (60 s); a stream's whole duration. */
  timeoutMs?: number;
  /** Upstream bodies (and single SSE events) larger than this are refused. Default 16 MiB. */
  maxResponseBytes?: number;
}

export interface Upstream {
  readonly endpoint: string;
  call(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<{ status: number; body: unknown }>;
  openai(kind: OpenAIKind, body: Record<string, unknown>, ctx?: CallContext): Promise<OpenAIResult>;
  predict(inputs: unknown, ctx?: CallContext): Promise<unknown>;
  /** Throws unless GET /models lists `modelId`. */
  checkServes(): Promise<void>;
  /** Cancels whatever is still in flight. */
  close(): void;
}

/** `endpoint` is the base URL including /v1; `modelId` the id sent upstream in place of the client's. */
export function openAIUpstream(endpoint: string, modelId: string, options: UpstreamOptions = {}): Upstream {
  const base = endpoint.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? GATEWAY_DEFAULTS.proxyTimeoutMs;
  const maxBytes = options.maxResponseBytes ?? GATEWAY_DEFAULTS.proxyMaxResponseBytes;
  const closed = new AbortController();
  const signalFor = (s?: AbortSignal) =>
    AbortSignal.any([closed.signal, AbortSignal.timeout(timeoutMs), ...(s ? [s] : [])]);

  const request = async (method: string, path: string, body: unknown, signal: AbortSignal): Promise<Response> => {
    try {
      return await fetch(`${base}/${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal,
      });
    } catch (e) {
      throw unreachable(base, path, e, signal);
    }
  };

  const readJson = async (res: Response, path: string): Promise<unknown> => {
    const length = Number(res.headers.get('content-length') ?? 0);
    if (length > maxBytes) {
      await res.body?.cancel();
      throw new Error(`${base}/${path}: response of ${length} bytes exceeds ${maxBytes}`);
    }
    const text = await res.text();
    if (text.length > maxBytes) throw new Error(`${base}/${path}: response exceeds ${maxBytes} bytes`);
    try {
      return text === '' ? null : JSON.parse(text);
    } catch {
      throw new Error(`${base}/${path}: HTTP ${res.status} with a non-JSON body`);
    }
  };

  const call: Upstream['call'] = async (method, path, body, signal) => {
    const s = signalFor(signal);
    const res = await request(method, path, body, s);
    try {
      return { status: res.status, body: await readJson(res, path) };
    } catch (e) {
      throw s.aborted ? abortedOr(e, s) : e;
    }
  };

  const openai: Upstream['openai'] = async (kind, body, ctx) => {
    const upstreamBody = { ...body, model: modelId };
    if (body.stream !== true) return call('POST', kind, upstreamBody, ctx?.signal);
    const s = signalFor(ctx?.signal);
    const res = await request('POST', kind, upstreamBody, s);
    const type = res.headers.get('content-type') ?? '';
    if (res.status !== 200 || !type.startsWith('text/event-stream'))
      return { status: res.status, body: await readJson(res, kind) };
    return { status: 200, stream: sseEvents(res, `${base}/${kind}`, maxBytes, s) };
  };

  return {
    endpoint: base,
    call,
    openai,
    async predict(inputs, ctx) {
      const r = await openai('chat/completions', { messages: predictMessages(inputs) }, ctx);
      if ('stream' in r) throw new Error('unexpected stream');
      if (r.status >= 400 && r.status < 500)
        throw new InputError(
          `upstream refused the request (HTTP ${r.status}): ${JSON.stringify(r.body).slice(0, 300)}`,
        );
      if (r.status !== 200) throw new Error(`upstream ${base} answered HTTP ${r.status}`);
      const choice = (r.body as { choices?: { message?: { content?: unknown }; finish_reason?: unknown }[] } | null)
        ?.choices?.[0];
      if (typeof choice?.message?.content !== 'string')
        throw new Error(`upstream ${base} returned no choices[0].message.content`);
      return { text: choice.message.content, finishReason: choice.finish_reason ?? null };
    },
    async checkServes() {
      const r = await call('GET', 'models');
      if (r.status !== 200) throw new Error(`${base}/models answered HTTP ${r.status}`);
      const ids = ((r.body as { data?: { id?: unknown }[] } | null)?.data ?? []).map((m) => m.id);
      if (!ids.includes(modelId))
        throw new Error(`${base} does not serve model "${modelId}" (it lists: ${ids.join(', ') || 'nothing'})`);
    },
    close() {
      closed.abort();
    },
  };
}

/** A fetch failure as a reason a person can act on: the URL and the cause, not just "fetch failed". */
function unreachable(base: string, path: string, e: unknown, signal: AbortSignal): Error {
  if (signal.aborted) return abortedOr(e, signal);
  const cause = (e as { cause?: { code?: string; message?: string } })?.cause;
  const why = cause?.code ?? cause?.message ?? (e as Error)?.message ?? String(e);
  return new Error(`${base}/${path} is unreachable (${why})`);
}

function abortedOr(e: unknown, signal: AbortSignal): Error {
  const r = signal.reason as Error | undefined;
  if (r?.name === 'TimeoutError') return new Error(`the upstream did not answer in time (${r.message})`);
  return new CallAborted((r as Error | undefined)?.message ?? (e as Error)?.message);
}

/** The `data:` events of an SSE body as JSON objects, until `[DONE]`. Reads the body only when pulled. */
async function* sseEvents(
  res: Response,
  where: string,
  maxBytes: number,
  signal: AbortSignal,
): AsyncGenerator<OpenAIChunk> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  try {
    for (;;) {
      let cut: number;
      while ((cut = buf.search(/\r?\n\r?\n/)) >= 0) {
        const event = buf.slice(0, cut);
        buf = buf.slice(cut).replace(/^\r?\n\r?\n/, '');
        const data = event
          .split(/\r?\n/)
          .filter((l) => l.startsWith('data:'))
          .map((l) => l.slice(5).replace(/^ /, ''))
          .join('\n');
        if (data === '') continue;
        if (data === '[DONE]') return;
        let chunk: unknown;
        try {
          chunk = JSON.parse(data);
        } catch {
          throw new Error(`${where}: a streamed event is not JSON: ${data.slice(0, 120)}`);
        }
        if (typeof chunk !== 'object' || chunk === null) throw new Error(`${where}: a streamed event is not an object`);
        if ('error' in chunk)
          throw new Error(`${where}: the stream failed: ${JSON.stringify(chunk.error).slice(0, 300)}`);
        yield chunk as OpenAIChunk;
      }
      if (buf.length > maxBytes) throw new Error(`${where}: a streamed event exceeds ${maxBytes} bytes`);
      let r: Awaited<ReturnType<typeof reader.read>>;
      try {
        r = await reader.read();
      } catch (e) {
        throw signal.aborted ? abortedOr(e, signal) : new Error(`${where}: the stream broke (${(e as Error).message})`);
      }
      if (r.done) throw new Error(`${where}: the stream ended without [DONE]`);
      buf += decoder.decode(r.value, { stream: true });
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}
