// The gateway on the real PyTorch engine: a managed Python worker (benchmarks/torch/serve_worker.py,
// the benchmark harness's own loaders) started per version, driven by the official openai client.
// Needs /usr/bin/python3 with torch: skipped here without it, a failure in CI.
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FolderVersionSource, type Gateway, createGateway } from '../../src/gateway/index.ts';
import type { Manifest, ManifestVersion } from '../../src/manifest/manifest.ts';
import { tempDir } from '../helpers.ts';
import { demoManifest } from './demo-manifest.ts';
import { requireInCi, versionFiles } from './engine-fixtures.ts';
import { demoEntry, demoWeightsDir } from './helpers.ts';

const PYTHON = '/usr/bin/python3';
const hasTorch = requireInCi(
  spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0,
  `torch for ${PYTHON}`,
  'apt-get install python3-torch',
);
const HARNESS = new URL('../../benchmarks/torch/', import.meta.url).pathname;

/** Runs Python with the harness on its path; returns stdout. */
function python(code: string, ...args: string[]): string {
  const r = spawnSync(PYTHON, ['-c', code, ...args], { cwd: HARNESS, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
  return r.stdout;
}

// Tiny causal LMs from the harness's own module (random weights, one per seed: config.json +
// model.safetensors), and each one's greedy text straight from the harness, no worker, no gateway:
// what the file produces. One Python process for all (importing torch is the slow part).
const MAKE_LMS = `
import sys, os, json, torch, _contract as c, causal_lm
root, prompt, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
cfg = {"vocab_size": 256, "hidden_size": 32, "num_layers": 1, "num_heads": 2, "intermediate_size": 64, "max_position_embeddings": 4096}
texts = {}
for seed in sys.argv[4:]:
    out = os.path.join(root, seed)
    torch.manual_seed(int(seed))
    os.makedirs(out, exist_ok=True)
    c.save_safetensors(os.path.join(out, "model.safetensors"), dict(causal_lm.TinyCausalLM(cfg).state_dict()))
    open(os.path.join(out, "config.json"), "w").write(json.dumps(cfg))
    model, _ = causal_lm.load(out, torch.device("cpu"), torch.float32)
    ids, mask = causal_lm.encode_batch([prompt], cfg["max_position_embeddings"], n)
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    toks, caches = [], None
    with torch.inference_mode():
        x, p = ids, pos
        for _ in range(n):
            logits, caches = model(x, p, mask, caches)
            t = int(logits[0, -1].argmax())
            toks.append(t)
            x, p = torch.tensor([[t]]), p[:, -1:] + 1
            mask = torch.cat([mask, torch.ones((1, 1), dtype=mask.dtype)], dim=1)
    texts[seed] = bytes(toks).decode("utf-8", "replace")
sys.stdout.write(json.dumps(texts))
`;

const LM = 'tiny-torch-lm';
const CLS = 'intent-classifier';
const PROMPT = 'Once';

describe.skipIf(!hasTorch)('pytorch engine behind the gateway (openai client)', () => {
  let root: string;
  let entries: Record<string, ManifestVersion>;
  let clsEntry: ManifestVersion;
  const direct: Record<string, string> = {};
  let gw: Gateway;
  let client: OpenAI;
  let sequence = 0;
  const manifest = (champion: string): Manifest =>
    demoManifest(
      { [LM]: { version: champion }, [CLS]: { version: '2.0.0' } },
      { sequence: ++sequence, extraVersions: { [LM]: entries, [CLS]: { '2.0.0': clsEntry } } },
    );

  beforeAll(async () => {
    root = tempDir();
    entries = {};
    const seeds = { '1.0.0': '1', '1.1.0': '2' } as const;
    const texts = JSON.parse(python(MAKE_LMS, join(root, 'src'), PROMPT, '12', ...Object.values(seeds)));
    for (const [v, seed] of Object.entries(seeds)) {
      const dir = join(root, 'src', seed);
      entries[v] = versionFiles(
        root,
        LM,
        v,
        {
          'config.json': readFileSync(join(dir, 'config.json')),
          'model.safetensors': readFileSync(join(dir, 'model.safetensors')),
        },
        { engine: 'pytorch', task: 'causal-lm' },
        'safetensors',
      );
      direct[v] = texts[seed];
    }
    // The demo classifier's own folder, served by the PyTorch harness instead of the builtin engine.
    cpSync(join(demoWeightsDir(), CLS, '2.0.0'), join(root, CLS, '2.0.0'), { recursive: true });
    clsEntry = { ...demoEntry(CLS, '2.0.0'), serving: { engine: 'pytorch', task: 'classifier' } };
    gw = createGateway({
      environment: 'production',
      source: new FolderVersionSource(root),
      engines: { pytorch: { threads: 1 } },
      log: () => {},
    });
    await gw.applyManifest(manifest('1.0.0'));
    const { url } = await gw.listen();
    client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('completes plainly and streamed with exactly what the harness generates for the file', async () => {
    expect(direct['1.0.0']).not.toBe(direct['1.1.0']);
    const plain = await client.completions.create({ model: LM, prompt: PROMPT, max_tokens: 12, temperature: 0 });
    expect(plain.choices[0]!.text).toBe(direct['1.0.0']);
    const stream = await client.completions.create({
      model: LM,
      prompt: PROMPT,
      max_tokens: 12,
      temperature: 0,
      stream: true,
    });
    const pieces: string[] = [];
    for await (const c of stream) pieces.push(c.choices[0]!.text);
    expect(pieces.length).toBeGreaterThan(3);
    expect(pieces.join('')).toBe(direct['1.0.0']);
    expect(gw.status().models[LM]!.versions['1.0.0']!.engine).toMatchObject({
      engine: 'pytorch',
      controlsWeights: true,
    });
  });

  it('classifies with the harness loader the same labels the builtin engine gives', async () => {
    const texts = ['what is my balance', 'cancel my order', 'hello there'];
    const torchOut = (await gw.predict(CLS, texts)).outputs as { label: string; score: number }[];
    const builtin = createGateway({
      environment: 'production',
      source: new FolderVersionSource(demoWeightsDir()),
      log: () => {},
    });
    try {
      await builtin.applyManifest(demoManifest({ [CLS]: { version: '2.0.0' } }));
      const mlp = (await builtin.predict(CLS, texts)).outputs as { label: string; score: number }[];
      expect(torchOut.map((o) => o.label)).toEqual(mlp.map((o) => o.label));
      torchOut.forEach((o, i) => expect(o.score).toBeCloseTo(mlp[i]!.score, 4));
    } finally {
      await builtin.close();
    }
    await expect(gw.predict(CLS, [''])).rejects.toMatchObject({ status: 400, code: 'bad-input' });
  });

  it('a hot-swap starts the new worker and changes the text; a rollback restores it; old workers stop', async () => {
    const pidOf = (v: string) => Number(/pid (\d+)/.exec(gw.status().models[LM]!.versions[v]!.engine!.detail!)![1]);
    const first = pidOf('1.0.0');
    await gw.applyManifest(manifest('1.1.0'));
    const r = await client.completions.create({ model: LM, prompt: PROMPT, max_tokens: 12, temperature: 0 });
    expect(r.choices[0]!.text).toBe(direct['1.1.0']);
    // The retired version's worker is stopped once it drained.
    await expect.poll(() => alive(first)).toBe(false);
    await gw.applyManifest(manifest('1.0.0'));
    const back = await client.completions.create({ model: LM, prompt: PROMPT, max_tokens: 12, temperature: 0 });
    expect(back.choices[0]!.text).toBe(direct['1.0.0']);
  });

  it('a client that aborts a stream is not counted as a failure', async () => {
    const before = gw.status().models[LM]!.versions['1.0.0']!;
    // 4000 tokens take the worker seconds; the abort comes after the first one.
    const stream = await client.completions.create({ model: LM, prompt: PROMPT, max_tokens: 4000, stream: true });
    for await (const _ of stream) {
      stream.controller.abort();
      break;
    }
    await expect.poll(() => gw.status().models[LM]!.versions['1.0.0']!.cancelled).toBe(before.cancelled + 1);
    expect(gw.status().models[LM]!.versions['1.0.0']!.errors).toBe(before.errors);
  });

  it('a worker that cannot load its files makes the version unavailable with the worker’s reason', async () => {
    const bad = versionFiles(
      root,
      'broken-lm',
      '1.0.0',
      { 'config.json': '{"vocab_size": 256}', 'model.safetensors': Buffer.alloc(16) },
      { engine: 'pytorch' },
      'safetensors',
    );
    const g = createGateway({ environment: 'production', source: new FolderVersionSource(root), log: () => {} });
    try {
      await g.applyManifest(
        demoManifest({ 'broken-lm': { version: '1.0.0' } }, { extraVersions: { 'broken-lm': { '1.0.0': bad } } }),
      );
      expect(g.status().models['broken-lm']!.versions['1.0.0']!.unavailable).toMatch(
        /^pytorch: pytorch worker \(\/usr\/bin\/python3\) exited \(code 1\) before it was ready: .*needs integer fields \['hidden_size'/s,
      );
    } finally {
      await g.close();
    }
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
