// The managed vLLM and Ollama engines' process and HTTP contracts, against stand-ins (neither runs on
// this machine): a stand-in `vllm` executable on PATH that serves the folder it was started on, and a
// stand-in Ollama daemon that keeps blobs by digest and models by name. Not models: what is tested is
// what the gateway starts, asks for, routes to and stops.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FolderVersionSource, createGateway } from '../../src/gateway/index.ts';
import { ollamaName } from '../../src/gateway/loaders.ts';
import type { Manifest, ManifestVersion } from '../../src/manifest/manifest.ts';
import { tempDir } from '../helpers.ts';
import { demoManifest } from './demo-manifest.ts';
import { versionFiles } from './engine-fixtures.ts';
import { type StandIn, startOpenAIStandIn } from './stand-ins/openai-stand-in.ts';

const STAND_INS = new URL('./stand-ins/', import.meta.url).pathname;
const M = 'chat';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('vllm engine (stand-in vllm executable)', () => {
  let root: string;
  let log: string;
  const oldPath = process.env.PATH;
  beforeAll(() => {
    root = tempDir();
    log = join(root, 'vllm-starts.jsonl');
    process.env.PATH = `${STAND_INS}:${oldPath}`; // the stand-in is `vllm` on PATH
    process.env.VLLM_STAND_IN_LOG = log;
  });
  afterAll(() => {
    process.env.PATH = oldPath;
    delete process.env.VLLM_STAND_IN_LOG;
  });
  const version = (v: string, weights: string): ManifestVersion =>
    versionFiles(root, M, v, { 'config.json': '{}', 'weights.txt': weights }, { engine: 'vllm' }, 'safetensors');

  it('starts `vllm serve <version folder>` as model@version, waits for /health, routes, and stops the old one after a swap', async () => {
    const entries = { '1.0.0': version('1.0.0', 'weights-A'), '1.1.0': version('1.1.0', 'weights-B') };
    let seq = 0;
    const manifest = (v: string): Manifest =>
      demoManifest({ [M]: { version: v } }, { sequence: ++seq, extraVersions: { [M]: entries } });
    const gw = createGateway({ environment: 'production', source: new FolderVersionSource(root), log: () => {} });
    try {
      await gw.applyManifest(manifest('1.0.0'));
      const { url } = await gw.listen();
      const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'x', maxRetries: 0 });
      const ask = async () => (await client.completions.create({ model: M, prompt: 'hi' })).choices[0]!.text;
      expect(await ask()).toBe('weights-A: hi');
      const starts = () =>
        readFileSync(log, 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l));
      const [first] = starts();
      expect(first.argv.slice(0, 4)).toEqual(['serve', join(root, M, '1.0.0'), '--served-model-name', `${M}@1.0.0`]);
      expect(first.argv).toContain('--port');
      expect(gw.status().models[M]!.versions['1.0.0']!.engine).toMatchObject({ engine: 'vllm', controlsWeights: true });

      const stream = await client.completions.create({ model: M, prompt: 'a b', stream: true });
      let text = '';
      for await (const c of stream) text += c.choices[0]!.text;
      expect(text).toBe('weights-A: a b');

      await gw.applyManifest(manifest('1.1.0'));
      expect(await ask()).toBe('weights-B: hi');
      expect(starts().map((s) => s.argv[3])).toEqual([`${M}@1.0.0`, `${M}@1.1.0`]);
      await expect.poll(() => alive(first.pid)).toBe(false); // the drained version's server was stopped
    } finally {
      await gw.close();
    }
    for (const s of readFileSync(log, 'utf8').trim().split('\n')) expect(alive(JSON.parse(s).pid)).toBe(false);
  });

  it('a vllm that cannot load the folder makes the version unavailable with its output as the reason', async () => {
    const bad = versionFiles(root, 'broken', '1.0.0', { 'config.json': '{}' }, { engine: 'vllm' }, 'safetensors');
    const gw = createGateway({ environment: 'production', source: new FolderVersionSource(root), log: () => {} });
    try {
      await gw.applyManifest(
        demoManifest({ broken: { version: '1.0.0' } }, { extraVersions: { broken: { '1.0.0': bad } } }),
      );
      expect(gw.status().models.broken!.versions['1.0.0']!.unavailable).toMatch(
        /^vllm: vllm serve .*broken\/1\.0\.0 exited before it was ready: ValueError: cannot load model from .*weights\.txt/,
      );
    } finally {
      await gw.close();
    }
  });
});

it('a vllm executable that is not installed makes the version unavailable with how to install it', async () => {
  const root = tempDir();
  const entry = versionFiles(root, M, '1.0.0', { 'config.json': '{}' }, { engine: 'vllm' }, 'safetensors');
  const gw = createGateway({
    environment: 'production',
    source: new FolderVersionSource(root),
    engines: { vllm: { command: join(root, 'no-such-vllm') } },
    log: () => {},
  });
  try {
    await gw.applyManifest(demoManifest({ [M]: { version: '1.0.0' } }, { extraVersions: { [M]: { '1.0.0': entry } } }));
    expect(gw.status().models[M]!.versions['1.0.0']!.unavailable).toBe(
      `vllm: "${join(root, 'no-such-vllm')}" is not installed here (pip install vllm, on a GPU runner)`,
    );
  } finally {
    await gw.close();
  }
});

it('a serving.engine this gateway has no engine for makes the version unavailable, naming the ones it has', async () => {
  const root = tempDir();
  const entry = versionFiles(root, M, '1.0.0', { 'model.onnx': 'x' }, { engine: 'onnxruntime' }, 'onnx');
  const gw = createGateway({ environment: 'production', source: new FolderVersionSource(root), log: () => {} });
  try {
    await gw.applyManifest(demoManifest({ [M]: { version: '1.0.0' } }, { extraVersions: { [M]: { '1.0.0': entry } } }));
    expect(gw.status().models[M]!.versions['1.0.0']!.unavailable).toBe(
      'onnxruntime: serving.engine "onnxruntime" has no engine in this gateway (it has: builtin, llama.cpp, pytorch, vllm, ollama, external)',
    );
  } finally {
    await gw.close();
  }
});

describe('ollama engine (stand-in Ollama daemon)', () => {
  let daemon: StandIn;
  let root: string;
  beforeAll(async () => {
    daemon = await startOpenAIStandIn({ ollama: true });
    root = tempDir();
  });
  afterAll(() => daemon?.close());

  it('uploads the GGUF as the blob of its manifest sha256 once, creates the model, routes to it, deletes it when retired', async () => {
    const gguf = Buffer.from('GGUF stand-in bytes: the daemon only checks the digest');
    const entry = versionFiles(root, M, '1.0.0', { 'model.gguf': gguf }, { engine: 'ollama', endpoint: daemon.url });
    const other = versionFiles(root, M, '1.1.0', { 'model.gguf': gguf }, { engine: 'ollama', endpoint: daemon.url });
    const gw = createGateway({ environment: 'production', source: new FolderVersionSource(root), log: () => {} });
    try {
      await gw.applyManifest(
        demoManifest({ [M]: { version: '1.0.0' } }, { extraVersions: { [M]: { '1.0.0': entry, '1.1.0': other } } }),
      );
      const digest = `sha256:${entry.files[0]!.sha256}`;
      expect(daemon.blobs.get(digest)?.equals(gguf)).toBe(true);
      const name = ollamaName(M, '1.0.0');
      expect(name).toBe('model-gitops/chat:1.0.0');
      expect(daemon.received.find((r) => r.path === '/api/create')?.body).toEqual({
        model: name,
        files: { 'model.gguf': digest },
        stream: false,
      });
      const out = await gw.predict(M, { text: 'hello' });
      expect(out.outputs).toEqual({ text: `${name} says: hello`, finishReason: 'stop' });

      expect(daemon.blobCalls).toEqual([
        { method: 'HEAD', digest },
        { method: 'POST', digest },
      ]);
      // Same bytes in the next version: the blob is not uploaded again (HEAD finds it).
      await gw.applyManifest(
        demoManifest(
          { [M]: { version: '1.1.0' } },
          { sequence: 2, extraVersions: { [M]: { '1.0.0': entry, '1.1.0': other } } },
        ),
      );
      expect(daemon.blobCalls.slice(2)).toEqual([{ method: 'HEAD', digest }]);
      expect(daemon.received.filter((r) => r.path === '/api/create').map((r) => r.body.model)).toEqual([
        'model-gitops/chat:1.0.0',
        'model-gitops/chat:1.1.0',
      ]);
      await expect
        .poll(() => daemon.received.filter((r) => r.path === '/api/delete').map((r) => r.body.model))
        .toEqual(['model-gitops/chat:1.0.0']);
      expect([...daemon.models]).toEqual(['model-gitops/chat:1.1.0']);
    } finally {
      await gw.close();
    }
    expect(daemon.models.size).toBe(0);
  });

  it('an unreachable daemon makes the version unavailable with the reason', async () => {
    const entry = versionFiles(
      root,
      'far',
      '1.0.0',
      { 'model.gguf': 'x' },
      { engine: 'ollama', endpoint: 'http://127.0.0.1:1' },
    );
    const gw = createGateway({ environment: 'production', source: new FolderVersionSource(root), log: () => {} });
    try {
      await gw.applyManifest(
        demoManifest({ far: { version: '1.0.0' } }, { extraVersions: { far: { '1.0.0': entry } } }),
      );
      expect(gw.status().models.far!.versions['1.0.0']!.unavailable).toMatch(
        /^ollama: http:\/\/127\.0\.0\.1:1\/api\/blobs\/sha256:[0-9a-f]{64} is unreachable \(.*\); is `ollama serve` running\?$/,
      );
    } finally {
      await gw.close();
    }
  });
});
