// `node bench/engine-stream.bench.ts [runs]` (or `npm run bench engine-stream`); needs `npm run engines:llama`.
//
// Streaming through the gateway against the same llama.cpp engine called directly, in one run:
//  - time to first token (TTFT): direct = LlamaCompletion's first onTextChunk after the call; gateway =
//    the first SSE `data:` event with text at an HTTP client over loopback, after it sent the request
//    (so it includes the HTTP parse, routing, the engine's own TTFT, SSE framing and the socket). Added
//    = gateway − direct, per pair of interleaved runs (direct, gateway, direct, ...).
//  - tokens/s over a whole generation, gateway / direct.
//  - memory (RSS) while two versions are loaded during a swap: before, with the old version held by an
//    open stream and the new one loaded, and after the old one drained and closed.
// Everything runs in this one process (client, gateway, engine; threads: 1), so the client's parsing
// counts against the gateway: the overhead is an upper bound.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FolderVersionSource, createGateway } from '../src/gateway/index.ts';
import { type NodeLlamaCpp, importNodeLlamaCpp } from '../src/gateway/engines/node-llama-cpp.ts';
import { NODE_LLAMA_CPP_VERSION } from '../src/gateway/loaders.ts';
import { sha256Hex } from '../src/lib/hash.ts';
import type { ManifestVersion } from '../src/manifest/manifest.ts';
import { demoManifest } from '../test/gateway/demo-manifest.ts';
import { tinyLlamaGguf } from '../test/helpers/llama-gguf.ts';

const RUNS = Number(process.argv[2] ?? 30);
const TTFT_TOKENS = 8;
const RATE_TOKENS = 256;
const PROMPT = 'The gateway streams';
const MODEL = 'bench-llm';
// Bigger than the test fixture so decode time and memory are visible: 384 wide, 4 layers (~25 MB F32).
const SHAPE = { width: 384, layers: 4, heads: 6, contextLength: 1024 };
const THREADS = 1;
const CONTEXT = 512;

let lib: NodeLlamaCpp;
try {
  lib = await importNodeLlamaCpp();
} catch {
  // Optional engine: `npm run bench` on the default install skips this one, saying why.
  console.log('engine-stream: skipped, node-llama-cpp is not installed (npm run engines:llama)');
  process.exit(0);
}

const root = mkdtempSync(join(tmpdir(), 'mg-bench-stream-'));
const entries: Record<string, ManifestVersion> = {};
for (const [v, seed] of [
  ['1.0.0', 1],
  ['1.1.0', 2],
] as const) {
  const bytes = tinyLlamaGguf({ seed, ...SHAPE });
  mkdirSync(join(root, MODEL, v), { recursive: true });
  writeFileSync(join(root, MODEL, v, 'model.gguf'), bytes);
  entries[v] = {
    files: [{ path: 'model.gguf', sha256: sha256Hex(bytes), size: bytes.length }],
    interface: { inputs: [{ name: 'prompt', dtype: 'string' }], outputs: [{ name: 'text', dtype: 'string' }] },
    architecture: { family: 'llama', format: 'gguf' },
    lineageDigest: `sha256:${'3'.repeat(64)}`,
    serving: { engine: 'llama.cpp' },
  };
}
const manifest = (champion: string, sequence: number) =>
  demoManifest({ [MODEL]: { version: champion } }, { sequence, extraVersions: { [MODEL]: entries } });

// ---- direct: the engine with nothing in front ------------------------------------------------------
const llama = await lib.getLlama({ gpu: false, build: 'never', logLevel: lib.LlamaLogLevel.error });
const directModel = await llama.loadModel({ modelPath: join(root, MODEL, '1.0.0', 'model.gguf') });
const directContext = await directModel.createContext({ contextSize: CONTEXT, threads: THREADS });
const directSequence = directContext.getSequence();
const completion = new lib.LlamaCompletion({ contextSequence: directSequence });
async function direct(maxTokens: number): Promise<{ ttft: number; total: number; text: string }> {
  await directSequence.clearHistory(); // as the gateway's engine does before each request
  const t0 = performance.now();
  let first = 0;
  const text = await completion.generateCompletion(PROMPT, {
    maxTokens,
    temperature: 0,
    onTextChunk: () => {
      first ||= performance.now();
    },
  });
  return { ttft: first - t0, total: performance.now() - t0, text };
}

// ---- the gateway ------------------------------------------------------------------------------------
const gw = createGateway({
  environment: 'production',
  source: new FolderVersionSource(root),
  engines: { llamaCpp: { threads: THREADS, contextSize: CONTEXT, sequences: 1 } },
  log: () => {},
});
await gw.applyManifest(manifest('1.0.0', 1));
const { port } = await gw.listen();
const agent = new Agent({ keepAlive: true });

/** One streamed completion; resolves with TTFT (first data event carrying text) and the total time. */
function viaGateway(maxTokens: number, hold?: Promise<void>): Promise<{ ttft: number; total: number; text: string }> {
  const body = JSON.stringify({ model: MODEL, prompt: PROMPT, max_tokens: maxTokens, temperature: 0, stream: true });
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let first = 0;
    let buf = '';
    let text = '';
    const req = request(
      {
        agent,
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/v1/completions',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.setEncoding('utf8');
        if (hold) res.pause();
        void hold?.then(() => res.resume());
        res.on('data', (c: string) => {
          buf += c;
          let i: number;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const ev = buf.slice(0, i);
            buf = buf.slice(i + 2);
            if (!ev.startsWith('data: ') || ev === 'data: [DONE]') continue;
            const piece = JSON.parse(ev.slice(6)).choices[0].text as string;
            if (piece && !first) first = performance.now();
            text += piece;
          }
        });
        res.on('end', () => resolve({ ttft: first - t0, total: performance.now() - t0, text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};

// Warm both paths (and check they generate the same greedy text).
const [dWarm, gWarm] = [await direct(32), await viaGateway(32)];
if (dWarm.text !== gWarm.text)
  throw new Error(`the gateway and the engine disagree: ${JSON.stringify([dWarm.text, gWarm.text])}`);

const loadBefore = os.loadavg();
const added: number[] = [];
const dTtft: number[] = [];
const gTtft: number[] = [];
for (let i = 0; i < RUNS; i++) {
  const d = await direct(TTFT_TOKENS);
  const g = await viaGateway(TTFT_TOKENS);
  dTtft.push(d.ttft);
  gTtft.push(g.ttft);
  added.push(g.ttft - d.ttft);
}
const rateRuns = Math.max(3, Math.round(RUNS / 5));
const dRate: number[] = [];
const gRate: number[] = [];
for (let i = 0; i < rateRuns; i++) {
  dRate.push(RATE_TOKENS / ((await direct(RATE_TOKENS)).total / 1000));
  gRate.push(RATE_TOKENS / ((await viaGateway(RATE_TOKENS)).total / 1000));
}

// Memory during a swap: an open stream holds 1.0.0 (its reader paused) while 1.1.0 loads and takes over.
const mb = () => Math.round((process.memoryUsage().rss / 2 ** 20) * 10) / 10;
const rssBefore = mb();
let release!: () => void;
const held = viaGateway(64, new Promise<void>((r) => (release = r)));
await new Promise((r) => setTimeout(r, 50));
await gw.applyManifest(manifest('1.1.0', 2));
const rssBoth = mb();
release();
await held;
const closed = new Promise<void>((resolve) => {
  const t = setInterval(() => {
    if (gw.events.some((e) => e.type === 'version-closed' && e.version === '1.0.0')) {
      clearInterval(t);
      resolve();
    }
  }, 5);
});
await closed;
const rssAfter = mb();

const p50 = (xs: number[]) => quantile(xs, 0.5);
const rows = [
  ['TTFT direct p50 / p95 (ms)', `${p50(dTtft).toFixed(3)} / ${quantile(dTtft, 0.95).toFixed(3)}`],
  ['TTFT gateway p50 / p95 (ms)', `${p50(gTtft).toFixed(3)} / ${quantile(gTtft, 0.95).toFixed(3)}`],
  ['TTFT added by the gateway p50 / p95 (ms)', `${p50(added).toFixed(3)} / ${quantile(added, 0.95).toFixed(3)}`],
  ['tokens/s direct (median)', p50(dRate).toFixed(1)],
  ['tokens/s gateway (median)', p50(gRate).toFixed(1)],
  ['tokens/s ratio gateway / direct', (p50(gRate) / p50(dRate)).toFixed(3)],
  ['RSS before swap (MiB)', String(rssBefore)],
  ['RSS with both versions loaded (MiB)', String(rssBoth)],
  ['RSS after the old one closed (MiB)', String(rssAfter)],
];
console.log(
  `engine-stream: ${RUNS} TTFT pairs (${TTFT_TOKENS} tokens), ${rateRuns} rate pairs (${RATE_TOKENS} tokens), threads ${THREADS}, model ${SHAPE.width}x${SHAPE.layers} F32 (${(entries['1.0.0']!.files[0]!.size / 2 ** 20).toFixed(1)} MiB)`,
);
for (const [k, v] of rows) console.log(`  ${k!.padEnd(44)} ${v}`);
console.log(
  JSON.stringify({
    bench: 'engine-stream',
    node: process.version,
    nodeLlamaCpp: NODE_LLAMA_CPP_VERSION,
    loadAverageBefore: loadBefore,
    loadAverageAfter: os.loadavg(),
    ttftAddedMs: { p50: p50(added), p95: quantile(added, 0.95) },
    tokensPerSecond: { direct: p50(dRate), gateway: p50(gRate), ratio: p50(gRate) / p50(dRate) },
    rssMiB: { before: rssBefore, bothLoaded: rssBoth, after: rssAfter },
  }),
);
agent.destroy();
await gw.close();
await directContext.dispose();
await directModel.dispose();
rmSync(root, { recursive: true, force: true });
