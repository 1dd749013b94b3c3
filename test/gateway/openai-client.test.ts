// OpenAI-compatible behaviour measured with the official openai client, against the gateway in front
// of an external OpenAI-compatible server (a stand-in, not a model): streaming through, a client's
// abort reaching the upstream, one logical request counted once against the canary rule despite the
// client's retries, GET /v1/models/{id}, `created`, error objects, and the optional API key.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FolderVersionSource, type Gateway, createGateway } from '../../src/gateway/index.ts';
import type { Manifest, ManifestVersion } from '../../src/manifest/manifest.ts';
import { demoManifest, demoWeightsDir } from './helpers.ts';
import { type StandIn, startOpenAIStandIn } from './stand-ins/openai-stand-in.ts';

const CHAT = 'chat-assistant';
let upstream: StandIn;
const external = (modelId: string): ManifestVersion => ({
  files: [],
  interface: { inputs: [{ name: 'messages', dtype: 'json' }], outputs: [{ name: 'text', dtype: 'string' }] },
  architecture: { family: 'llama', format: 'gguf' },
  lineageDigest: `sha256:${'1'.repeat(64)}`,
  serving: { engine: 'external', endpoint: `${upstream.url}/v1`, modelId },
});
const manifest = (): Manifest =>
  demoManifest(
    {
      [CHAT]: { version: '1.0.0', canary: { version: '1.1.0', weight: 50 }, rollout: { failureLimit: 3 } },
      'intent-classifier': { version: '2.0.0' },
    },
    { extraVersions: { [CHAT]: { '1.0.0': external('up-a'), '1.1.0': external('up-b') } } },
  );

describe('the gateway through the openai client (external stand-in upstream)', () => {
  let gw: Gateway;
  let url: string;
  beforeAll(async () => {
    upstream = await startOpenAIStandIn({ models: ['up-a', 'up-b'], chunkDelayMs: 20 });
    gw = createGateway({
      environment: 'production',
      source: new FolderVersionSource(demoWeightsDir()),
      apiKey: 'sk-test-123',
      log: () => {},
    });
    await gw.applyManifest(manifest());
    ({ url } = await gw.listen());
  });
  afterAll(async () => {
    await gw?.close();
    await upstream?.close();
  });
  const client = (options: { apiKey?: string; maxRetries?: number } = {}) =>
    new OpenAI({ baseURL: `${url}/v1`, apiKey: options.apiKey ?? 'sk-test-123', maxRetries: options.maxRetries ?? 0 });

  it('lists models with created, and answers GET /v1/models/{id}; 404 as an OpenAI error for others', async () => {
    const created = Math.floor(Date.parse('2026-11-24T10:00:00.000Z') / 1000);
    const list = await client().models.list();
    expect(list.data.map((m) => m.id).sort()).toEqual([CHAT, 'intent-classifier']);
    for (const m of list.data) expect(m).toMatchObject({ object: 'model', created, owned_by: 'model-gitops' });
    expect(await client().models.retrieve(CHAT)).toEqual({
      id: CHAT,
      object: 'model',
      created,
      owned_by: 'model-gitops',
    });
    const e = await client()
      .models.retrieve('nope')
      .then(
        () => undefined,
        (x: unknown) => x as InstanceType<typeof OpenAI.NotFoundError>,
      );
    expect(e).toBeInstanceOf(OpenAI.NotFoundError);
    expect(e!.error).toEqual({
      message: 'the model "nope" is not deployed here',
      type: 'not_found_error',
      param: 'model',
      code: 'model_not_found',
    });
  });

  it('needs the API key on /v1/*: none or a wrong one is a 401 the client does not retry', async () => {
    for (const key of ['wrong-key', 'sk-test-12']) {
      const e = await client({ apiKey: key, maxRetries: 2 })
        .models.list()
        .then(
          () => undefined,
          (x: unknown) => x as InstanceType<typeof OpenAI.AuthenticationError>,
        );
      expect(e).toBeInstanceOf(OpenAI.AuthenticationError);
      expect(e!.error).toMatchObject({ type: 'authentication_error', code: 'invalid_api_key' });
    }
    const r = await fetch(`${url}/v1/models`);
    expect(r.status).toBe(401);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe('missing_api_key');
    // Health and metrics stay open for probes and scrapers.
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });

  it('streams the upstream SSE through, chunk by chunk, with the client’s model name', async () => {
    const observed = async () => {
      const r = await fetch(`${url}/v1/observations`, { headers: { authorization: 'Bearer sk-test-123' } });
      const snap = (await r.json()) as {
        versions: {
          model: string;
          version: string;
          requests: number;
          windows: { outputs: Record<string, number> }[];
        }[];
      };
      const v = snap.versions.find((x) => x.model === CHAT && x.version === '1.1.0');
      return { requests: v?.requests ?? 0, stops: (v?.windows ?? []).reduce((n, w) => n + (w.outputs.stop ?? 0), 0) };
    };
    const before = await observed();
    const { data: stream, response } = await client()
      .chat.completions.create(
        { model: CHAT, messages: [{ role: 'user', content: 'one two three' }], stream: true },
        {
          headers: { 'x-model-version': '1.1.0' },
        },
      )
      .withResponse();
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(response.headers.get('x-served-version')).toBe('1.1.0');
    const deltas: string[] = [];
    for await (const c of stream) {
      expect(c.model).toBe(CHAT);
      if (c.choices[0]?.delta.content) deltas.push(c.choices[0].delta.content);
    }
    expect(deltas).toEqual(['up-b ', 'says: ', 'one ', 'two ', 'three']);
    expect(upstream.received.at(-1)?.body).toMatchObject({ model: 'up-b', stream: true });
    // A streamed answer has its request id in the headers (before the first token) and is counted, with
    // the finish reason of its last chunk, once it has ended.
    expect(response.headers.get('x-request-id')).toMatch(/\S+/);
    expect(await observed()).toEqual({ requests: before.requests + 1, stops: before.stops + 1 });
  });

  it('a client that aborts its stream aborts the upstream call too', async () => {
    const cutBefore = upstream.streams.filter((s) => s === 'cut').length;
    const stream = await client().completions.create(
      { model: CHAT, prompt: Array.from({ length: 40 }, (_, i) => `w${i}`).join(' '), stream: true },
      { headers: { 'x-model-version': '1.0.0' } },
    );
    for await (const _ of stream) {
      stream.controller.abort();
      break;
    }
    await expect.poll(() => upstream.streams.filter((s) => s === 'cut').length).toBe(cutBefore + 1);
    await expect.poll(() => gw.status().models[CHAT]!.versions['1.0.0']!.cancelled).toBeGreaterThanOrEqual(1);
  });

  it('one failing logical request counts once against the canary, though the client retries by default', async () => {
    const before = gw.status().models[CHAT]!.canary!.window!;
    const sentBefore = upstream.received.length;
    const e = await client({ maxRetries: 2 })
      .chat.completions.create(
        { model: CHAT, messages: [{ role: 'user', content: 'explode' }] },
        { headers: { 'x-model-version': '1.1.0' } },
      )
      .then(
        () => undefined,
        (x: unknown) => x as InstanceType<typeof OpenAI.InternalServerError>,
      );
    expect(e?.status).toBe(502);
    expect(e?.headers.get('x-should-retry')).toBe('false');
    expect(e?.error).toMatchObject({ type: 'server_error', code: 'model-error' });
    expect(upstream.received.length - sentBefore).toBe(1); // no retry reached the upstream
    const after = gw.status().models[CHAT]!.canary!.window!;
    expect(after.failures - before.failures).toBe(1);
    expect(after.requests - before.requests).toBe(1);
  });

  it('a retry the client sends anyway (x-stainless-retry-count) is served but not counted again', async () => {
    const before = gw.status().models[CHAT]!.canary!.window!;
    const r = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: 'Bearer sk-test-123',
        'x-model-version': '1.1.0',
        'x-stainless-retry-count': '1',
      },
      body: JSON.stringify({ model: CHAT, messages: [{ role: 'user', content: 'explode' }] }),
    });
    expect(r.status).toBe(502);
    expect(gw.status().models[CHAT]!.canary!.window!).toEqual(before);
    expect(gw.status().models[CHAT]!.canary!.state).toBe('active');
  });

  it('refuses a malformed body with an OpenAI error object', async () => {
    const e = await client()
      .chat.completions.create({ model: 42 as unknown as string, messages: [] })
      .then(
        () => undefined,
        (x: unknown) => x as InstanceType<typeof OpenAI.BadRequestError>,
      );
    expect(e?.error).toEqual({
      message: 'the body must be a JSON object with a "model" string',
      type: 'invalid_request_error',
      param: 'model',
      code: 'bad-request',
    });
  });
});
