import { Agent, createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FolderVersionSource, type Gateway, createGateway } from '../../src/gateway/index.ts';
import type { ManifestVersion } from '../../src/manifest/manifest.ts';
import { tempDir } from '../helpers.ts';
import { demoManifest, demoWeightsDir, parseMetrics, send } from './helpers.ts';

// A tiny OpenAI-compatible server: lists two model ids and echoes the last message. "explode" in a
// prompt makes it answer 500; "bad" makes it answer 400 like a real server refusing parameters.
const received: { path: string; body: any }[] = [];
let upstream: Server;
let upstreamUrl: string;
beforeAll(async () => {
  upstream = createServer((req, res) => {
    let text = '';
    req.on('data', (c) => {
      text += c;
    });
    req.on('end', () => {
      const reply = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (req.method === 'GET' && req.url === '/v1/models')
        return reply(200, {
          object: 'list',
          data: [
            { id: 'tiny-llm', object: 'model' },
            { id: 'tiny-llm-2', object: 'model' },
          ],
        });
      const body = JSON.parse(text || '{}');
      received.push({ path: req.url!, body });
      const prompt =
        req.url === '/v1/chat/completions' ? String(body.messages?.at(-1)?.content ?? '') : String(body.prompt ?? '');
      if (prompt.includes('explode')) return reply(500, { error: { message: 'out of memory' } });
      if (prompt.includes('bad')) return reply(400, { error: { message: 'temperature must be <= 2' } });
      if (req.url === '/v1/chat/completions')
        return reply(200, {
          id: 'c1',
          object: 'chat.completion',
          model: body.model,
          choices: [
            {
              index: 0,
              message: { role: 'assistant', content: `${body.model} says: ${prompt}` },
              finish_reason: 'stop',
            },
          ],
        });
      if (req.url === '/v1/completions')
        return reply(200, {
          id: 'c2',
          object: 'text_completion',
          model: body.model,
          choices: [{ index: 0, text: `${body.model} completes: ${prompt}`, finish_reason: 'length' }],
        });
      reply(404, { error: { message: 'no such path' } });
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`;
});
afterAll(() => new Promise<void>((r) => upstream.close(() => r())));

const CHAT = 'chat-assistant';
const proxied = (modelId: string): ManifestVersion => ({
  files: [],
  interface: { inputs: [{ name: 'messages', dtype: 'json' }], outputs: [{ name: 'text', dtype: 'string' }] },
  architecture: { family: 'llama', format: 'gguf' },
  lineageDigest: `sha256:${'1'.repeat(64)}`,
  serving: { engine: 'external', endpoint: upstreamUrl, modelId },
});
const manifest = (v2ModelId = 'tiny-llm-2') =>
  demoManifest(
    {
      [CHAT]: { version: '1.0.0', canary: { version: '1.1.0', weight: 50 } },
      'intent-classifier': { version: '2.0.0' },
    },
    { extraVersions: { [CHAT]: { '1.0.0': proxied('tiny-llm'), '1.1.0': proxied(v2ModelId) } } },
  );

describe('OpenAI-compatible proxy loader', () => {
  let gw: Gateway;
  let url: string;
  const agent = new Agent({ keepAlive: true });
  beforeAll(async () => {
    gw = createGateway({ environment: 'production', source: new FolderVersionSource(demoWeightsDir()), log: () => {} });
    await gw.applyManifest(manifest());
    ({ url } = await gw.listen());
  });
  afterAll(async () => {
    agent.destroy();
    await gw.close();
  });

  it("forwards chat completions to the routed version's serving.modelId and names the served version", async () => {
    for (const [version, modelId] of [
      ['1.0.0', 'tiny-llm'],
      ['1.1.0', 'tiny-llm-2'],
    ] as const) {
      const r = await send(
        agent,
        'POST',
        `${url}/v1/chat/completions`,
        JSON.stringify({ model: CHAT, messages: [{ role: 'user', content: 'hi there' }], temperature: 0.2 }),
        { 'x-model-version': version },
      );
      expect(r.status).toBe(200);
      expect(r.headers['x-served-version']).toBe(version);
      expect(r.json.model).toBe(CHAT); // the client's name, not the upstream id
      expect(r.json.choices[0].message.content).toBe(`${modelId} says: hi there`);
      expect(received.at(-1)).toEqual({
        path: '/v1/chat/completions',
        body: { model: modelId, messages: [{ role: 'user', content: 'hi there' }], temperature: 0.2 },
      });
    }
    const c = await send(
      agent,
      'POST',
      `${url}/v1/completions`,
      JSON.stringify({ model: CHAT, prompt: 'once upon', max_tokens: 3, user: 'alice' }),
    );
    expect(c.status).toBe(200);
    expect(c.json.choices[0].text).toMatch(/^tiny-llm(-2)? completes: once upon$/);
    // `user` is the routing key when no x-routing-key is sent: sticky.
    for (let i = 0; i < 5; i++) {
      const again = await send(
        agent,
        'POST',
        `${url}/v1/completions`,
        JSON.stringify({ model: CHAT, prompt: 'x', user: 'alice' }),
      );
      expect(again.headers['x-served-version']).toBe(c.headers['x-served-version']);
    }
  });

  it('serves /predict for proxied models, passes 4xx through and counts 5xx as failures', async () => {
    const p = await send(
      agent,
      'POST',
      `${url}/v1/models/${CHAT}/predict`,
      JSON.stringify({ inputs: { text: 'ping' } }),
      { 'x-model-version': '1.0.0' },
    );
    expect(p.status).toBe(200);
    expect(p.json.outputs).toEqual({ text: 'tiny-llm says: ping', finishReason: 'stop' });

    const bad = await send(
      agent,
      'POST',
      `${url}/v1/chat/completions`,
      JSON.stringify({ model: CHAT, messages: [{ role: 'user', content: 'bad' }] }),
      { 'x-model-version': '1.0.0' },
    );
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toBe('temperature must be <= 2');
    const boom = await send(
      agent,
      'POST',
      `${url}/v1/chat/completions`,
      JSON.stringify({ model: CHAT, messages: [{ role: 'user', content: 'explode' }] }),
      { 'x-model-version': '1.0.0' },
    );
    expect(boom.status).toBe(502);
    expect(boom.json.error).toMatchObject({
      code: 'model-error',
      type: 'server_error',
      param: null,
      message: expect.stringContaining('upstream answered HTTP 500'),
    });
    // Retrying cannot help and would count against the canary rule again: the OpenAI clients obey this.
    expect(boom.headers['x-should-retry']).toBe('false');

    const samples = parseMetrics((await send(agent, 'GET', `${url}/metrics`)).text);
    const errors = samples.find(
      (s) => s.name === 'model_gitops_errors_total' && s.labels.model === CHAT && s.labels.version === '1.0.0',
    );
    expect(errors?.value).toBe(1);
  });

  it('refuses a version whose upstream does not serve its modelId (warm-up fails before routing changes)', async () => {
    const g = createGateway({ environment: 'production', source: new FolderVersionSource(tempDir()), log: () => {} });
    const m = manifest('missing-model');
    m.environments.production!.models = { [CHAT]: { version: '1.0.0' } };
    await g.applyManifest(m);
    // A later manifest whose champion cannot warm is refused whole; routing stays on 1.0.0.
    const next = manifest('missing-model');
    next.sequence = m.sequence + 1;
    next.environments.production!.models = { [CHAT]: { version: '1.1.0' } };
    await expect(g.applyManifest(next)).rejects.toThrow(
      /not applied; routing is unchanged[\s\S]*external: .*does not serve model "missing-model" \(it lists: tiny-llm, tiny-llm-2\)/,
    );
    expect(g.status().models[CHAT]!.champion).toBe('1.0.0');
    await g.close();
  });

  it('at start-up serves what loaded: an unreachable upstream makes only its version unavailable, with the reason', async () => {
    const g = createGateway({
      environment: 'production',
      source: new FolderVersionSource(demoWeightsDir()),
      log: () => {},
    });
    // A port nothing listens on: bound, then closed.
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const m = manifest();
    m.models[CHAT]!.versions['1.0.0']!.serving = {
      engine: 'external',
      endpoint: `http://127.0.0.1:${port}/v1`,
      modelId: 'x',
    };
    m.environments.production!.models[CHAT] = { version: '1.0.0' };
    await g.applyManifest(m);
    const { url: u } = await g.listen();
    try {
      const r = await send(agent, 'POST', `${u}/v1/chat/completions`, JSON.stringify({ model: CHAT, messages: [] }));
      expect(r.status).toBe(503);
      expect(r.headers['x-should-retry']).toBe('false');
      expect(r.json.error.code).toBe('version-unavailable');
      expect(r.json.error.message).toBe(
        `chat-assistant@1.0.0 is not loaded: external: http://127.0.0.1:${port}/v1/models is unreachable (ECONNREFUSED)`,
      );
      const v = g.status().models[CHAT]!.versions['1.0.0']!;
      expect(v.loaded).toBe(false);
      expect(v.unavailable).toMatch(/ECONNREFUSED/);
      // The other model serves.
      const p = await send(
        agent,
        'POST',
        `${u}/v1/models/intent-classifier/predict`,
        JSON.stringify({ inputs: 'hello' }),
      );
      expect(p.status).toBe(200);
      const ext = gw.status().models[CHAT]!.versions['1.0.0']!.engine;
      expect(ext).toMatchObject({ engine: 'external', controlsWeights: false });
    } finally {
      await g.close();
    }
  });
});
