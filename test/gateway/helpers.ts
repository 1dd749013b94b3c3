// Shared by the gateway suites: a manifest over the demo models, demo weights on disk, a loopback
// HTTP client, and a loader wrapper that records what the gateway does with each version.
import { request as httpRequest, Agent } from 'node:http';
import { writeDemoWeights } from '../../scripts/demo-weights.ts';
import type { LoadedModel, Loader } from '../../src/gateway/index.ts';
import { tempDir } from '../helpers.ts';

export { demoEntry, demoManifest } from './demo-manifest.ts';

let weights: string | undefined;
/** Demo weights written once per test file: <dir>/<model>/<version>/. */
export function demoWeightsDir(): string {
  if (!weights) {
    weights = tempDir('mg-weights-');
    writeDemoWeights(weights);
  }
  return weights;
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
}

export function send(
  agent: Agent,
  method: string,
  url: string,
  body?: string | Buffer,
  headers: Record<string, string> = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method, agent, headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export const predictBody = (inputs: unknown) => JSON.stringify({ inputs });

export interface VersionLog {
  loads: number;
  warmedAt?: number;
  closedAt?: number;
  inflight: number;
  maxInflightAtClose?: number;
  predictsAfterClose: number;
  served: number;
}

/** Wraps a loader: optional delays and failures per version, and a log of load/warm/predict/close. */
export function recordingLoader(
  inner: Loader,
  behaviour: {
    loadDelayMs?: (version: string) => number;
    predictDelayMs?: number;
    failPredict?: (version: string, call: number) => boolean;
  } = {},
) {
  /** Per version, one record per loaded instance (a version retired and loaded again has two). */
  const log = new Map<string, VersionLog[]>();
  const loader: Loader = {
    async load(dir, entry) {
      const version = dir.split('/').pop()!;
      const instances = log.get(version) ?? [];
      log.set(version, instances);
      const l: VersionLog = { loads: instances.length + 1, inflight: 0, predictsAfterClose: 0, served: 0 };
      instances.push(l);
      const delay = behaviour.loadDelayMs?.(version) ?? 0;
      if (delay) await new Promise((r) => setTimeout(r, delay));
      const m = await inner.load(dir, entry);
      let calls = 0;
      const wrapped: LoadedModel = {
        async predict(inputs) {
          if (l.closedAt !== undefined) l.predictsAfterClose++;
          l.inflight++;
          try {
            if (behaviour.predictDelayMs) await new Promise((r) => setTimeout(r, behaviour.predictDelayMs));
            calls++;
            if (behaviour.failPredict?.(version, calls)) throw new Error(`${version} is broken`);
            const out = await m.predict(inputs);
            l.served++;
            return out;
          } finally {
            l.inflight--;
          }
        },
        async warm() {
          await m.warm();
          l.warmedAt = performance.now();
        },
        async close() {
          l.maxInflightAtClose = l.inflight;
          l.closedAt = performance.now();
          await m.close();
        },
      };
      return wrapped;
    },
  };
  return { loader, log };
}

/** Prometheus text -> samples. Throws on a line that is not a comment or `name{labels} value`. */
export function parseMetrics(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  const out: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    const v = m[3]!;
    out.push({ name: m[1]!, labels, value: v === '+Inf' ? Infinity : v === '-Inf' ? -Infinity : Number(v) });
  }
  return out;
}
