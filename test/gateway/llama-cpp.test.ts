// The gateway on the real llama.cpp engine (node-llama-cpp, in process), driven by the official openai
// client: plain and streamed completions, cancel, hot-swap and rollback changing the generated text to
// exactly what llama.cpp produces for each file directly (greedy), and no failed request while versions
// swap under streaming load. node-llama-cpp is optional: skipped here without it, a failure in CI.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FolderVersionSource, type Gateway, createGateway } from '../../src/gateway/index.ts';
import { importNodeLlamaCpp } from '../../src/gateway/engines/node-llama-cpp.ts';
import { LLAMA_INSTALL_COMMAND, NODE_LLAMA_CPP_VERSION } from '../../src/gateway/loaders.ts';
import type { Manifest, ManifestVersion } from '../../src/manifest/manifest.ts';
import { tempDir } from '../helpers.ts';
import { tinyLlamaGguf, tinyLoraGguf } from '../helpers/llama-gguf.ts';
import { demoManifest } from './demo-manifest.ts';
import { llamaVersion, requireInCi, versionFiles } from './engine-fixtures.ts';

const hasLlama = requireInCi(
  await importNodeLlamaCpp().then(
    () => true,
    () => false,
  ),
  'node-llama-cpp',
  LLAMA_INSTALL_COMMAND,
);

it('the pinned node-llama-cpp version is the one `npm run engines:llama` installs', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  expect(pkg.scripts['engines:llama']).toContain(`node-llama-cpp@${NODE_LLAMA_CPP_VERSION}`);
  expect(pkg.dependencies?.['node-llama-cpp']).toBeUndefined(); // not in the default install
});

it('without node-llama-cpp a llama.cpp version is unavailable with the one-line install command', async () => {
  const root = tempDir();
  const entry = versionFiles(root, 'm', '1.0.0', { 'model.gguf': 'GGUF' }, { engine: 'llama.cpp' });
  const g = createGateway({
    environment: 'production',
    source: new FolderVersionSource(root),
    engines: {
      llamaCpp: { importer: () => Promise.reject(new Error("Cannot find package 'node-llama-cpp'")) },
    },
    log: () => {},
  });
  try {
    await g.applyManifest(demoManifest({ m: { version: '1.0.0' } }, { extraVersions: { m: { '1.0.0': entry } } }));
    expect(g.status().models.m!.versions['1.0.0']!.unavailable).toBe(
      "llama.cpp: node-llama-cpp is not installed (Cannot find package 'node-llama-cpp'); install it with: npm run engines:llama",
    );
  } finally {
    await g.close();
  }
});

const CHAT = 'tiny-chat';
const THREADS = 1;
const CONTEXT = 256;
const PROMPT = 'The weights say';

describe.skipIf(!hasLlama)('llama.cpp engine behind the gateway (openai client)', () => {
  let root: string;
  let entries: Record<string, ManifestVersion>;
  let gw: Gateway;
  let client: OpenAI;
  let url: string;
  /** Greedy text llama.cpp itself produces for each version's file. */
  const direct: Record<string, string> = {};
  let sequence = 0;

  const manifest = (champion: string, extra: Record<string, ManifestVersion> = {}): Manifest =>
    demoManifest(
      { [CHAT]: { version: champion } },
      { sequence: ++sequence, extraVersions: { [CHAT]: { ...entries, ...extra } } },
    );

  beforeAll(async () => {
    root = tempDir();
    entries = { '1.0.0': llamaVersion(root, CHAT, '1.0.0', 1), '1.1.0': llamaVersion(root, CHAT, '1.1.0', 2) };
    const { getLlama, LlamaCompletion, LlamaLogLevel } = await importNodeLlamaCpp();
    const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
    for (const v of Object.keys(entries)) {
      const model = await llama.loadModel({ modelPath: join(root, CHAT, v, 'model.gguf') });
      const context = await model.createContext({ contextSize: CONTEXT, threads: THREADS });
      const completion = new LlamaCompletion({ contextSequence: context.getSequence() });
      direct[v] = await completion.generateCompletion(PROMPT, { maxTokens: 24, temperature: 0 });
      await context.dispose();
      await model.dispose();
    }
    gw = createGateway({
      environment: 'production',
      source: new FolderVersionSource(root),
      engines: { llamaCpp: { threads: THREADS, contextSize: CONTEXT, sequences: 2 } },
      log: () => {},
    });
    await gw.applyManifest(manifest('1.0.0'));
    ({ url } = await gw.listen());
    client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('different files give different greedy text (the fixture can tell versions apart)', () => {
    expect(direct['1.0.0']!.length).toBeGreaterThan(10);
    expect(direct['1.0.0']).not.toBe(direct['1.1.0']);
  });

  it('answers a plain completion with exactly what llama.cpp generates for the file', async () => {
    const { data, response } = await client.completions
      .create({ model: CHAT, prompt: PROMPT, max_tokens: 24, temperature: 0 })
      .withResponse();
    expect(response.headers.get('x-served-version')).toBe('1.0.0');
    expect(data.object).toBe('text_completion');
    expect(data.model).toBe(CHAT);
    expect(data.choices[0]!.text).toBe(direct['1.0.0']);
    expect(data.choices[0]!.finish_reason).toBe('length');
    expect(data.usage).toMatchObject({ completion_tokens: 24 });
    expect(gw.status().models[CHAT]!.versions['1.0.0']!.engine).toMatchObject({
      engine: 'llama.cpp',
      controlsWeights: true,
      detail: 'model.gguf',
    });
  });

  it('streams a completion as SSE chunks that join to the same text, and a chat completion too', async () => {
    const stream = await client.completions.create({
      model: CHAT,
      prompt: PROMPT,
      max_tokens: 24,
      temperature: 0,
      stream: true,
    });
    const pieces: string[] = [];
    let finish: string | null = null;
    for await (const chunk of stream) {
      pieces.push(chunk.choices[0]!.text);
      finish = chunk.choices[0]!.finish_reason ?? finish;
    }
    expect(pieces.length).toBeGreaterThan(5); // token by token, not one block
    expect(pieces.join('')).toBe(direct['1.0.0']);
    expect(finish).toBe('length');

    const whole = await client.chat.completions.create({
      model: CHAT,
      messages: [{ role: 'user', content: 'hello' }],
      max_tokens: 16,
      temperature: 0,
    });
    const chatStream = await client.chat.completions.create({
      model: CHAT,
      messages: [{ role: 'user', content: 'hello' }],
      max_tokens: 16,
      temperature: 0,
      stream: true,
    });
    let text = '';
    let role: string | undefined;
    for await (const c of chatStream) {
      role ??= c.choices[0]?.delta.role;
      text += c.choices[0]?.delta.content ?? '';
      expect(c.object).toBe('chat.completion.chunk');
    }
    expect(role).toBe('assistant');
    expect(whole.choices[0]!.message.content!.length).toBeGreaterThan(0);
    expect(text).toBe(whole.choices[0]!.message.content);
  });

  it('a client that aborts a stream stops the generation; nothing counts as a failure', async () => {
    const before = gw.status().models[CHAT]!.versions['1.0.0']!;
    const aborted = before.engine!.generations!.aborted;
    const stream = await client.completions.create({
      model: CHAT,
      prompt: PROMPT,
      max_tokens: 200, // far more than arrives before the abort
      temperature: 0,
      stream: true,
    });
    let got = 0;
    for await (const _ of stream) {
      if (++got === 2) {
        stream.controller.abort();
        break;
      }
    }
    await expect
      .poll(() => gw.status().models[CHAT]!.versions['1.0.0']!.engine!.generations!.aborted)
      .toBe(aborted + 1);
    await expect.poll(() => gw.status().models[CHAT]!.versions['1.0.0']!.inflight).toBe(0);
    const after = gw.status().models[CHAT]!.versions['1.0.0']!;
    expect(after.cancelled).toBe(before.cancelled + 1);
    expect(after.errors).toBe(before.errors);
  });

  it('refuses bad parameters with an OpenAI error object naming the param', async () => {
    const e = await client.completions.create({ model: CHAT, prompt: PROMPT, max_tokens: -3 }).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(OpenAI.BadRequestError);
    const err = e as InstanceType<typeof OpenAI.BadRequestError>;
    expect(err.status).toBe(400);
    expect(err.error).toMatchObject({ type: 'invalid_request_error', param: 'max_tokens', code: 'bad-input' });
    expect(err.message).toMatch(/"max_tokens" must be a number from 1 to 4096 \(got -3\)/);
    const chat = await client.chat.completions
      .create({ model: CHAT, messages: [{ role: 'tool' as 'user', content: 'x' }] })
      .then(
        () => undefined,
        (x: unknown) => x as InstanceType<typeof OpenAI.BadRequestError>,
      );
    expect(chat?.error).toMatchObject({ param: 'messages' });
    expect(chat?.message).toMatch(/messages\[0\]\.role must be system, developer, user or assistant/);
  });

  it('a hot-swap changes the text to the new file’s, and a rollback restores it', async () => {
    const ask = async () => {
      const { data, response } = await client.completions
        .create({ model: CHAT, prompt: PROMPT, max_tokens: 24, temperature: 0 })
        .withResponse();
      return { version: response.headers.get('x-served-version'), text: data.choices[0]!.text };
    };
    expect(await ask()).toEqual({ version: '1.0.0', text: direct['1.0.0'] });
    await gw.applyManifest(manifest('1.1.0'));
    expect(await ask()).toEqual({ version: '1.1.0', text: direct['1.1.0'] });
    await gw.applyManifest(manifest('1.0.0')); // rollback
    expect(await ask()).toEqual({ version: '1.0.0', text: direct['1.0.0'] });
  });

  it('swapping versions under streaming load fails no request, and each stream is its version’s text', async () => {
    let stop = false;
    const results: { version: string | null; text: string }[] = [];
    const failures: unknown[] = [];
    const worker = async () => {
      while (!stop) {
        try {
          const { data: stream, response } = await client.completions
            .create({ model: CHAT, prompt: PROMPT, max_tokens: 24, temperature: 0, stream: true })
            .withResponse();
          let text = '';
          for await (const c of stream) text += c.choices[0]!.text;
          results.push({ version: response.headers.get('x-served-version'), text });
        } catch (e) {
          failures.push(e);
        }
      }
    };
    const workers = [worker(), worker(), worker()];
    for (const v of ['1.1.0', '1.0.0', '1.1.0', '1.0.0']) {
      await expect.poll(() => results.length, { timeout: 10_000 }).toBeGreaterThan(results.length);
      await gw.applyManifest(manifest(v));
    }
    await expect.poll(() => results.length, { timeout: 10_000 }).toBeGreaterThan(results.length + 2);
    stop = true;
    await Promise.all(workers);
    expect(failures).toEqual([]);
    const served = new Set(results.map((r) => r.version));
    expect(served).toEqual(new Set(['1.0.0', '1.1.0']));
    for (const r of results) expect(r.text).toBe(direct[r.version!]);
    // Every retired version drained and closed.
    await expect.poll(() => gw.events.filter((e) => e.type === 'version-closed').length).toBeGreaterThanOrEqual(4);
    expect(gw.events.filter((e) => e.type === 'close-failed')).toEqual([]);
  });

  it('a swap drains an open stream only within the bound: then it is aborted with a reason and the old version closes', async () => {
    let seq = 100;
    const g = createGateway({
      environment: 'production',
      source: new FolderVersionSource(root),
      engines: { llamaCpp: { threads: THREADS, contextSize: CONTEXT } },
      drainTimeoutMs: 1,
      log: () => {},
    });
    try {
      const m = (v: string) =>
        demoManifest({ [CHAT]: { version: v } }, { sequence: ++seq, extraVersions: { [CHAT]: entries } });
      await g.applyManifest(m('1.0.0'));
      const { url: u } = await g.listen();
      const c = new OpenAI({ baseURL: `${u}/v1`, apiKey: 'unused', maxRetries: 0 });
      const stream = await c.completions.create({
        model: CHAT,
        prompt: PROMPT,
        max_tokens: 200, // longer than the 1 ms bound lets it run
        temperature: 0,
        stream: true,
      });
      const it = stream[Symbol.asyncIterator]();
      await it.next(); // the stream is open on 1.0.0
      await g.applyManifest(m('1.1.0'));
      const rest = (async () => {
        for (let r = await it.next(); !r.done; r = await it.next());
      })();
      await expect(rest).rejects.toThrow(/tiny-chat@1\.0\.0 was retired and its drain bound ran out/);
      await expect.poll(() => g.events.some((e) => e.type === 'version-closed' && e.version === '1.0.0')).toBe(true);
      const after = await c.completions.create({ model: CHAT, prompt: PROMPT, max_tokens: 24, temperature: 0 });
      expect(after.choices[0]!.text).toBe(direct['1.1.0']);
    } finally {
      await g.close();
    }
  });

  it('serves a LoRA adapter on its deployed base: the text is llama.cpp’s for base + adapter, and a swap changes it', async () => {
    const BASE = 'tiny-base';
    const ADAPTER = 'tiny-adapter';
    const baseEntry = versionFiles(
      root,
      BASE,
      '1.0.0',
      { 'model.gguf': readFileSync(join(root, CHAT, '1.0.0', 'model.gguf')) },
      {
        engine: 'llama.cpp',
      },
    );
    const adapters: Record<string, ManifestVersion> = {};
    for (const [v, seed] of [
      ['1.0.0', 9],
      ['1.1.0', 10],
    ] as const)
      adapters[v] = {
        ...versionFiles(root, ADAPTER, v, { 'adapter.gguf': tinyLoraGguf({ seed }) }, { engine: 'llama.cpp' }),
        base: { model: BASE, range: '^1.0.0', relation: 'adapter' },
      };
    // What llama.cpp itself generates for the base with each adapter.
    const { getLlama, LlamaCompletion, LlamaLogLevel } = await importNodeLlamaCpp();
    const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
    const model = await llama.loadModel({ modelPath: join(root, BASE, '1.0.0', 'model.gguf') });
    const expected: Record<string, string> = {};
    for (const v of Object.keys(adapters)) {
      const context = await model.createContext({
        contextSize: CONTEXT,
        threads: THREADS,
        lora: { adapters: [{ filePath: join(root, ADAPTER, v, 'adapter.gguf') }] },
      });
      expected[v] = await new LlamaCompletion({ contextSequence: context.getSequence() }).generateCompletion(PROMPT, {
        maxTokens: 24,
        temperature: 0,
      });
      await context.dispose();
    }
    await model.dispose();
    expect(expected['1.0.0']).not.toBe(direct['1.0.0']);
    expect(expected['1.0.0']).not.toBe(expected['1.1.0']);

    let seq = 200;
    const m = (adapter: string) =>
      demoManifest(
        {
          [BASE]: { version: '1.0.0' },
          [ADAPTER]: {
            version: adapter,
            base: { model: BASE, version: '1.0.0', range: '^1.0.0', relation: 'adapter' },
          },
        },
        { sequence: ++seq, extraVersions: { [BASE]: { '1.0.0': baseEntry }, [ADAPTER]: adapters } },
      );
    const g = createGateway({
      environment: 'production',
      source: new FolderVersionSource(root),
      engines: { llamaCpp: { threads: THREADS, contextSize: CONTEXT } },
      log: () => {},
    });
    try {
      await g.applyManifest(m('1.0.0'));
      const { url: u } = await g.listen();
      const c = new OpenAI({ baseURL: `${u}/v1`, apiKey: 'unused', maxRetries: 0 });
      const ask = async (name: string) =>
        (await c.completions.create({ model: name, prompt: PROMPT, max_tokens: 24, temperature: 0 })).choices[0]!.text;
      expect(await ask(ADAPTER)).toBe(expected['1.0.0']);
      expect(await ask(BASE)).toBe(direct['1.0.0']); // the base itself is untouched
      expect(g.status().models[ADAPTER]!.versions['1.0.0']!.engine!.detail).toBe(
        'adapter.gguf (LoRA) on tiny-base@1.0.0 model.gguf',
      );
      await g.applyManifest(m('1.1.0'));
      expect(await ask(ADAPTER)).toBe(expected['1.1.0']);
    } finally {
      await g.close();
    }
  });

  it('at start-up a version whose GGUF cannot load is unavailable with the reason; the others serve', async () => {
    const broken = versionFiles(
      root,
      CHAT,
      '9.0.0',
      { 'model.gguf': tinyLlamaGguf({ seed: 3 }).subarray(0, 4096) },
      { engine: 'llama.cpp' },
    );
    const noGguf = versionFiles(root, 'other', '9.1.0', { 'weights.bin': 'x' }, { engine: 'llama.cpp' });
    const g = createGateway({
      environment: 'production',
      source: new FolderVersionSource(root),
      engines: { llamaCpp: { threads: THREADS, contextSize: CONTEXT } },
      log: () => {},
    });
    try {
      const m = demoManifest(
        {
          [CHAT]: { version: '9.0.0' },
          other: { version: '9.1.0' },
          good: { version: '1.0.0' },
        },
        {
          extraVersions: {
            [CHAT]: { '9.0.0': broken },
            other: { '9.1.0': noGguf },
            good: { '1.0.0': entries['1.0.0']! },
          },
        },
      );
      // The good version's folder lives under its own model name.
      versionFiles(
        root,
        'good',
        '1.0.0',
        { 'model.gguf': readFileSync(join(root, CHAT, '1.0.0', 'model.gguf')) },
        {
          engine: 'llama.cpp',
        },
      );
      const applied = await g.applyManifest(m);
      expect(Object.keys(applied.unavailable).sort()).toEqual([`other@9.1.0`, `${CHAT}@9.0.0`]);
      const s = g.status();
      expect(s.models[CHAT]!.versions['9.0.0']!.unavailable).toMatch(/^llama\.cpp: could not load model\.gguf: /);
      expect(s.models.other!.versions['9.1.0']!.unavailable).toBe(
        'llama.cpp: the version has no .gguf file (files: weights.bin)',
      );
      expect(s.models.good!.versions['1.0.0']!.loaded).toBe(true);
      const out = await g.predict('good', { text: 'hi' });
      expect(out.version).toBe('1.0.0');
      await expect(g.predict(CHAT, { text: 'hi' })).rejects.toMatchObject({
        status: 503,
        code: 'version-unavailable',
        message: expect.stringMatching(/tiny-chat@9\.0\.0 is not loaded: llama\.cpp: could not load model\.gguf/),
      });
    } finally {
      await g.close();
    }
  });
});
