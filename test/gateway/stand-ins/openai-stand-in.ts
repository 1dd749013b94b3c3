// A stand-in for an OpenAI-compatible server (an external server, an Ollama daemon): NOT a model. It
// answers `<name> says: <prompt>` whole or streamed word by word as SSE, "explode" in a prompt answers
// 500, and it records what it received and whether each stream ran to its end or was cut by the client.
// With `ollama: true` it also keeps Ollama's blob and model API (HEAD/POST /api/blobs/sha256:<hex>,
// POST /api/create, DELETE /api/delete), checking every uploaded blob against its digest.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StandIn {
  url: string;
  /** Model ids GET /v1/models lists. */
  models: Set<string>;
  received: { method: string; path: string; body: any; headers: IncomingMessage['headers'] }[];
  /** Per stream: 'done' or 'cut' (the client went away before the end). */
  streams: ('done' | 'cut')[];
  /** Ollama: blobs by digest, and every blob request. */
  blobs: Map<string, Buffer>;
  blobCalls: { method: string; digest: string }[];
  close(): Promise<void>;
}

export async function startOpenAIStandIn(
  options: { models?: string[]; ollama?: boolean; chunkDelayMs?: number } = {},
): Promise<StandIn> {
  const state: Omit<StandIn, 'url' | 'close'> = {
    models: new Set(options.models ?? []),
    received: [],
    streams: [],
    blobs: new Map(),
    blobCalls: [],
  };
  const delay = options.chunkDelayMs ?? 5;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => void handle(req, res, Buffer.concat(chunks)));
  });
  const reply = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const handle = async (req: IncomingMessage, res: ServerResponse, raw: Buffer) => {
    const path = req.url ?? '/';
    const blob = /^\/api\/blobs\/(sha256:[0-9a-f]{64})$/.exec(path);
    if (options.ollama && blob) {
      state.blobCalls.push({ method: req.method!, digest: blob[1]! });
      if (req.method === 'HEAD') return res.writeHead(state.blobs.has(blob[1]!) ? 200 : 404).end();
      const got = `sha256:${createHash('sha256').update(raw).digest('hex')}`;
      if (got !== blob[1]) return reply(res, 400, { error: `digest mismatch: got ${got}` });
      state.blobs.set(got, raw);
      return res.writeHead(201).end();
    }
    let body: any = {};
    try {
      body = raw.length ? JSON.parse(raw.toString('utf8')) : {};
    } catch {
      return reply(res, 400, { error: { message: 'bad json' } });
    }
    state.received.push({ method: req.method!, path, body, headers: req.headers });
    if (options.ollama && path === '/api/create' && req.method === 'POST') {
      const files = Object.values(body.files ?? {}) as string[];
      if (!files.length || !files.every((d) => state.blobs.has(d)))
        return reply(res, 400, { error: 'a file names a blob that was never uploaded' });
      state.models.add(body.model);
      return reply(res, 200, { status: 'success' });
    }
    if (options.ollama && path === '/api/delete' && req.method === 'DELETE') {
      if (!state.models.delete(body.model)) return reply(res, 404, { error: 'model not found' });
      return reply(res, 200, {});
    }
    if (req.method === 'GET' && (path === '/health' || path === '/')) return reply(res, 200, { status: 'ok' });
    if (req.method === 'GET' && path === '/v1/models')
      return reply(res, 200, { object: 'list', data: [...state.models].map((id) => ({ id, object: 'model' })) });
    const chat = path === '/v1/chat/completions';
    if (!chat && path !== '/v1/completions') return reply(res, 404, { error: { message: `no route ${path}` } });
    if (!state.models.has(body.model)) return reply(res, 404, { error: { message: `model ${body.model} not found` } });
    const prompt = chat ? String(body.messages?.at(-1)?.content ?? '') : String(body.prompt ?? '');
    if (prompt.includes('explode')) return reply(res, 500, { error: { message: 'out of memory' } });
    const text = `${body.model} says: ${prompt}`;
    if (body.stream !== true)
      return reply(res, 200, {
        id: 'x1',
        object: chat ? 'chat.completion' : 'text_completion',
        model: body.model,
        choices: [
          chat
            ? { index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }
            : { index: 0, text, finish_reason: 'stop' },
        ],
      });
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    let cut = false;
    res.on('close', () => {
      if (!res.writableFinished) cut = true;
    });
    const words = text.split(/(?<= )/);
    for (const w of words) {
      if (cut) break;
      const choice = chat
        ? { index: 0, delta: { content: w }, finish_reason: null }
        : { index: 0, text: w, finish_reason: null };
      res.write(
        `data: ${JSON.stringify({ id: 'x2', object: chat ? 'chat.completion.chunk' : 'text_completion', model: body.model, choices: [choice] })}\n\n`,
      );
      await new Promise((r) => setTimeout(r, delay));
    }
    if (cut) {
      state.streams.push('cut');
      return;
    }
    const last = chat ? { index: 0, delta: {}, finish_reason: 'stop' } : { index: 0, text: '', finish_reason: 'stop' };
    res.end(
      `data: ${JSON.stringify({ id: 'x2', object: 'chunk', model: body.model, choices: [last] })}\n\ndata: [DONE]\n\n`,
    );
    state.streams.push('done');
  };
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    ...state,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
