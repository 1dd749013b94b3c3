// Loaders turn a materialised version folder into something that predicts. They are pluggable: the
// gateway asks `loaderFor(model, version, entry)` for one. Built in: the demo bag-of-bytes MLP (real
// forward pass over safetensors weights) and a proxy to an OpenAI-compatible server (vLLM, llama.cpp…).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ManifestVersion } from '../manifest.ts';
import { parseSafetensors } from '../safetensors.ts';

export interface LoadedModel {
  predict(inputs: unknown): Promise<unknown>;
  /** Make the first real request fast (and prove the version works) before any traffic reaches it. */
  warm(): Promise<void>;
  close(): Promise<void>;
  /** OpenAI-compatible endpoints, for proxied models: returns the upstream status and JSON body. */
  openai?(kind: OpenAIKind, body: Record<string, unknown>): Promise<{ status: number; body: unknown }>;
}

export type OpenAIKind = 'chat/completions' | 'completions';

export interface Loader {
  load(versionDir: string, entry: ManifestVersion): Promise<LoadedModel>;
}

/** The caller's inputs are wrong: answered with 400 and NOT counted as a failure of the version. */
export class InputError extends Error {
  constructor(message: string) { super(message); this.name = 'InputError'; }
}

// ---- Bag-of-bytes MLP (the demo models) ------------------------------------------------------------

export interface ClassifierOutput { label: string; score: number }

/** bytes of the text -> mean of embed rows -> tanh(hidden · x) -> head logits -> argmax label. */
export const bagOfBytesLoader: Loader = {
  async load(versionDir, entry) {
    const weightsFile = entry.files.find((f) => f.path.endsWith('.safetensors'))?.path ?? 'model.safetensors';
    const bytes = await readFile(join(versionDir, weightsFile));
    const tensors = new Map(parseSafetensors(weightsFile, bytes).tensors.map((t) => [t.name, t]));
    const config = JSON.parse(await readFile(join(versionDir, 'config.json'), 'utf8')) as { id2label?: Record<string, string> };
    const get = (name: string) => {
      const t = tensors.get(name);
      if (!t || t.shape.length !== 2) throw new Error(`${weightsFile}: needs a 2-D tensor "${name}"`);
      if (t.dtype !== 'F32') throw new Error(`tensor "${name}" is ${t.dtype}; this loader computes in F32 only`);
      const values = new Float32Array((t.end - t.start) / 4); // copied: file offsets need not be 4-byte aligned
      Buffer.from(values.buffer).set(bytes.subarray(t.start, t.end));
      return { shape: t.shape as [number, number], values };
    };
    const embed = get('embed.weight');
    const hidden = get('hidden.weight');
    const head = get('head.weight');
    const [vocab, dim] = embed.shape;
    const nLabels = head.shape[0];
    if (vocab < 256) throw new Error(`embed.weight has ${vocab} rows; a byte vocabulary needs 256`);
    if (hidden.shape[0] !== dim || hidden.shape[1] !== dim || head.shape[1] !== dim) {
      throw new Error(`tensor shapes disagree: embed [${embed.shape}], hidden [${hidden.shape}], head [${head.shape}]`);
    }
    const labels = Array.from({ length: nLabels }, (_, i) => config.id2label?.[String(i)]);
    if (labels.some((l) => typeof l !== 'string')) throw new Error(`config.json id2label must name all ${nLabels} labels of head.weight`);

    const x = new Float64Array(dim);
    const h = new Float64Array(dim);
    const one = (text: unknown): ClassifierOutput => {
      if (typeof text !== 'string' || text.length === 0) throw new InputError('each input must be a non-empty string');
      const bytes = Buffer.from(text, 'utf8');
      x.fill(0);
      for (const b of bytes) for (let j = 0, row = b * dim; j < dim; j++) x[j]! += embed.values[row + j]!;
      for (let j = 0; j < dim; j++) x[j]! /= bytes.length;
      for (let i = 0; i < dim; i++) {
        let s = 0;
        for (let j = 0, row = i * dim; j < dim; j++) s += hidden.values[row + j]! * x[j]!;
        h[i] = Math.tanh(s);
      }
      const logits = new Float64Array(nLabels);
      let best = 0;
      for (let i = 0; i < nLabels; i++) {
        let s = 0;
        for (let j = 0, row = i * dim; j < dim; j++) s += head.values[row + j]! * h[j]!;
        logits[i] = s;
        if (s > logits[best]!) best = i;
      }
      let z = 0;
      for (const l of logits) z += Math.exp(l - logits[best]!);
      return { label: labels[best]!, score: 1 / z }; // softmax probability of the argmax
    };
    return {
      // inputs: "text" | {text} | ["text", ...] (a batch gives an array of outputs)
      async predict(inputs) {
        if (Array.isArray(inputs)) return inputs.map(one);
        if (typeof inputs === 'object' && inputs !== null && 'text' in inputs) return one((inputs as { text: unknown }).text);
        if (typeof inputs === 'string') return one(inputs);
        throw new InputError('inputs must be a string, {"text": string} or an array of strings');
      },
      async warm() { one('warm-up'); },
      async close() {},
    };
  },
};

// ---- OpenAI-compatible proxy -----------------------------------------------------------------------

export interface ProxyOptions {
  /** Per upstream request. */
  timeoutMs?: number;
  /** Upstream bodies larger than this are refused (a misbehaving server must not exhaust memory). */
  maxResponseBytes?: number;
}

export function openAIProxyLoader(options: ProxyOptions = {}): Loader {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const maxBytes = options.maxResponseBytes ?? 16 * 1024 * 1024;
  return {
    async load(_versionDir, entry) {
      const endpoint = entry.serving?.endpoint?.replace(/\/+$/, '');
      const modelId = entry.serving?.modelId;
      if (!endpoint || !modelId) throw new Error('an OpenAI-compatible proxy needs serving.endpoint and serving.modelId in the version card');
      const controller = new AbortController(); // close() cancels whatever is still in flight
      const call = async (method: 'GET' | 'POST', path: string, body?: unknown) => {
        const res = await fetch(`${endpoint}/${path}`, {
          method,
          headers: body === undefined ? {} : { 'content-type': 'application/json' },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.any([controller.signal, AbortSignal.timeout(timeoutMs)]),
        });
        const length = Number(res.headers.get('content-length') ?? 0);
        if (length > maxBytes) { await res.body?.cancel(); throw new Error(`${endpoint}/${path}: response of ${length} bytes exceeds ${maxBytes}`); }
        const text = await res.text();
        if (text.length > maxBytes) throw new Error(`${endpoint}/${path}: response exceeds ${maxBytes} bytes`);
        let json: unknown;
        try { json = text === '' ? null : JSON.parse(text); } catch { throw new Error(`${endpoint}/${path}: HTTP ${res.status} with a non-JSON body`); }
        return { status: res.status, body: json };
      };
      const upstream = async (kind: OpenAIKind, body: Record<string, unknown>) => {
        if (body.stream === true) throw new InputError('streaming responses ("stream": true) are not supported by this gateway yet');
        return call('POST', kind, { ...body, model: modelId });
      };
      return {
        async predict(inputs) {
          const i = (typeof inputs === 'string' ? { text: inputs } : inputs) as { messages?: unknown; text?: unknown } | null;
          const messages = Array.isArray(i?.messages) ? i.messages : typeof i?.text === 'string' ? [{ role: 'user', content: i.text }] : undefined;
          if (!messages) throw new InputError('inputs must be a string, {"text": string} or {"messages": [...]}');
          const r = await upstream('chat/completions', { messages });
          if (r.status >= 400 && r.status < 500) throw new InputError(`upstream refused the request (HTTP ${r.status}): ${JSON.stringify(r.body).slice(0, 300)}`);
          if (r.status !== 200) throw new Error(`upstream ${endpoint} answered HTTP ${r.status}`);
          const choice = (r.body as { choices?: { message?: { content?: unknown }; finish_reason?: unknown }[] } | null)?.choices?.[0];
          if (typeof choice?.message?.content !== 'string') throw new Error(`upstream ${endpoint} returned no choices[0].message.content`);
          return { text: choice.message.content, finishReason: choice.finish_reason ?? null };
        },
        async warm() {
          // Reachable, and actually serving the model id the card names.
          const r = await call('GET', 'models');
          if (r.status !== 200) throw new Error(`${endpoint}/models answered HTTP ${r.status}`);
          const ids = ((r.body as { data?: { id?: unknown }[] } | null)?.data ?? []).map((m) => m.id);
          if (!ids.includes(modelId)) throw new Error(`${endpoint} does not serve model "${modelId}" (it lists: ${ids.join(', ') || 'nothing'})`);
        },
        async close() { controller.abort(); },
        openai: upstream,
      };
    },
  };
}

/** The default choice: a version whose card names a serving endpoint is proxied; otherwise the
 * built-in bag-of-bytes loader runs its safetensors weights in process. */
export function defaultLoaderFor(proxy: Loader = openAIProxyLoader()): (model: string, version: string, entry: ManifestVersion) => Loader {
  return (_model, _version, entry) => (entry.serving?.endpoint ? proxy : bagOfBytesLoader);
}
