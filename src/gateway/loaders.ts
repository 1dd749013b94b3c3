// Loaders turn a materialised version folder into something that predicts. They are pluggable: the
// gateway asks `loaderFor(model, version, entry)` for one. Built in: the demo bag-of-bytes MLP (real
// forward pass over safetensors weights) and a proxy to an OpenAI-compatible server (vLLM, llama.cpp…).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ManifestVersion } from '../manifest/manifest.ts';
import { IntentClassifier, encode, parseModel, topProbability } from '../demo-model/model.ts';
import { GATEWAY_DEFAULTS } from './defaults.ts';

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
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

// ---- Bag-of-bytes MLP (the demo models) ------------------------------------------------------------

export interface ClassifierOutput {
  label: string;
  score: number;
}

/**
 * The demo intent classifier served in process. A thin adapter over src/demo-model (the same loader
 * checks and the same forward pass the CPU benchmark harness and training use, so the gateway and
 * the harness predict identical labels); this adds only input validation and the score.
 */
export const bagOfBytesLoader: Loader = {
  async load(versionDir, entry) {
    const weightsFile = entry.files.find((f) => f.path.endsWith('.safetensors'))?.path ?? 'model.safetensors';
    const configFile = join(versionDir, 'config.json');
    const model = parseModel(
      await readFile(configFile, 'utf8'),
      configFile,
      await readFile(join(versionDir, weightsFile)),
      weightsFile,
    );
    const net = new IntentClassifier(model);
    const one = (text: unknown): ClassifierOutput => {
      if (typeof text !== 'string' || text.length === 0) throw new InputError('each input must be a non-empty string');
      const best = net.predictIndex(encode(text));
      return { label: model.labels[best]!, score: topProbability(net.logits, best) };
    };
    return {
      // inputs: "text" | {text} | ["text", ...] (a batch gives an array of outputs)
      async predict(inputs) {
        if (Array.isArray(inputs)) return inputs.map(one);
        if (typeof inputs === 'object' && inputs !== null && 'text' in inputs)
          return one((inputs as { text: unknown }).text);
        if (typeof inputs === 'string') return one(inputs);
        throw new InputError('inputs must be a string, {"text": string} or an array of strings');
      },
      async warm() {
        one('warm-up');
      },
      async close() {},
    };
  },
};

// ---- OpenAI-compatible proxy -----------------------------------------------------------------------

export interface ProxyOptions {
  /** Per upstream request. Default GATEWAY_DEFAULTS.proxyTimeoutMs (60 s). */
  timeoutMs?: number;
  /** Upstream bodies larger than this are refused (a misbehaving server must not exhaust memory).
   * Default GATEWAY_DEFAULTS.proxyMaxResponseBytes (16 MiB). */
  maxResponseBytes?: number;
}

export function openAIProxyLoader(options: ProxyOptions = {}): Loader {
  const timeoutMs = options.timeoutMs ?? GATEWAY_DEFAULTS.proxyTimeoutMs;
  const maxBytes = options.maxResponseBytes ?? GATEWAY_DEFAULTS.proxyMaxResponseBytes;
  return {
    async load(_versionDir, entry) {
      const endpoint = entry.serving?.endpoint?.replace(/\/+$/, '');
      const modelId = entry.serving?.modelId;
      if (!endpoint || !modelId)
        throw new Error('an OpenAI-compatible proxy needs serving.endpoint and serving.modelId in the version card');
      const controller = new AbortController(); // close() cancels whatever is still in flight
      const call = async (method: 'GET' | 'POST', path: string, body?: unknown) => {
        const res = await fetch(`${endpoint}/${path}`, {
          method,
          headers: body === undefined ? {} : { 'content-type': 'application/json' },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.any([controller.signal, AbortSignal.timeout(timeoutMs)]),
        });
        const length = Number(res.headers.get('content-length') ?? 0);
        if (length > maxBytes) {
          await res.body?.cancel();
          throw new Error(`${endpoint}/${path}: response of ${length} bytes exceeds ${maxBytes}`);
        }
        const text = await res.text();
        if (text.length > maxBytes) throw new Error(`${endpoint}/${path}: response exceeds ${maxBytes} bytes`);
        let json: unknown;
        try {
          json = text === '' ? null : JSON.parse(text);
        } catch {
          throw new Error(`${endpoint}/${path}: HTTP ${res.status} with a non-JSON body`);
        }
        return { status: res.status, body: json };
      };
      const upstream = async (kind: OpenAIKind, body: Record<string, unknown>) => {
        if (body.stream === true)
          throw new InputError('streaming responses ("stream": true) are not supported by this gateway yet');
        return call('POST', kind, { ...body, model: modelId });
      };
      return {
        async predict(inputs) {
          const i = (typeof inputs === 'string' ? { text: inputs } : inputs) as {
            messages?: unknown;
            text?: unknown;
          } | null;
          const messages = Array.isArray(i?.messages)
            ? i.messages
            : typeof i?.text === 'string'
              ? [{ role: 'user', content: i.text }]
              : undefined;
          if (!messages) throw new InputError('inputs must be a string, {"text": string} or {"messages": [...]}');
          const r = await upstream('chat/completions', { messages });
          if (r.status >= 400 && r.status < 500)
            throw new InputError(
              `upstream refused the request (HTTP ${r.status}): ${JSON.stringify(r.body).slice(0, 300)}`,
            );
          if (r.status !== 200) throw new Error(`upstream ${endpoint} answered HTTP ${r.status}`);
          const choice = (r.body as { choices?: { message?: { content?: unknown }; finish_reason?: unknown }[] } | null)
            ?.choices?.[0];
          if (typeof choice?.message?.content !== 'string')
            throw new Error(`upstream ${endpoint} returned no choices[0].message.content`);
          return { text: choice.message.content, finishReason: choice.finish_reason ?? null };
        },
        async warm() {
          // Reachable, and actually serving the model id the card names.
          const r = await call('GET', 'models');
          if (r.status !== 200) throw new Error(`${endpoint}/models answered HTTP ${r.status}`);
          const ids = ((r.body as { data?: { id?: unknown }[] } | null)?.data ?? []).map((m) => m.id);
          if (!ids.includes(modelId))
            throw new Error(`${endpoint} does not serve model "${modelId}" (it lists: ${ids.join(', ') || 'nothing'})`);
        },
        async close() {
          controller.abort();
        },
        openai: upstream,
      };
    },
  };
}

/** The default choice: a version whose card names a serving endpoint is proxied; otherwise the
 * built-in bag-of-bytes loader runs its safetensors weights in process. */
export function defaultLoaderFor(
  proxy: Loader = openAIProxyLoader(),
): (model: string, version: string, entry: ManifestVersion) => Loader {
  return (_model, _version, entry) => (entry.serving?.endpoint ? proxy : bagOfBytesLoader);
}
