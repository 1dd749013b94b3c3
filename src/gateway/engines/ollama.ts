// serving.engine: ollama, managed — the gateway creates the model in an Ollama daemon from the synced
// GGUF (uploaded as a blob under the sha256 the manifest already holds, skipped when the daemon has it),
// calls its OpenAI-compatible API, and deletes the model when the version is closed. serving.endpoint is
// the daemon (default http://127.0.0.1:11434).
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { Loader } from './engine.ts';
import { openAIUpstream, type UpstreamOptions } from './upstream.ts';

export const OLLAMA_DEFAULT_ENDPOINT = 'http://127.0.0.1:11434';

export type OllamaOptions = UpstreamOptions;

/** An Ollama model name for a version: `model-gitops/<model>:<version>`, tag characters only. */
export function ollamaName(model: string, version: string): string {
  const clean = (s: string) => s.toLowerCase().replace(/[^a-z0-9_.-]/g, '-');
  return `model-gitops/${clean(model)}:${clean(version).slice(0, 128)}`;
}

export function ollamaLoaderFor(model: string, version: string, options: OllamaOptions = {}): Loader {
  return {
    async load(versionDir, entry) {
      const daemon = (entry.serving?.endpoint ?? OLLAMA_DEFAULT_ENDPOINT).replace(/\/+$/, '').replace(/\/v1$/, '');
      const file = entry.files.find((f) => f.path.toLowerCase().endsWith('.gguf'));
      if (!file)
        throw new Error(
          `ollama: the version has no .gguf file (files: ${entry.files.map((f) => f.path).join(', ') || 'none'})`,
        );
      const digest = `sha256:${file.sha256}`;
      const api = async (method: string, path: string, body?: string | ReadableStream, json = true) => {
        try {
          return await fetch(`${daemon}${path}`, {
            method,
            ...(body === undefined
              ? {}
              : { body, ...(json ? { headers: { 'content-type': 'application/json' } } : {}) }),
            ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
            signal: AbortSignal.timeout(options.timeoutMs ?? 600_000),
          } as RequestInit);
        } catch (e) {
          const c = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message;
          throw new Error(`ollama: ${daemon}${path} is unreachable (${c}); is \`ollama serve\` running?`);
        }
      };
      const head = await api('HEAD', `/api/blobs/${digest}`);
      if (head.status !== 200) {
        const path = join(versionDir, file.path);
        const size = (await stat(path)).size;
        const up = await api(
          'POST',
          `/api/blobs/${digest}`,
          Readable.toWeb(createReadStream(path)) as ReadableStream,
          false,
        );
        if (up.status !== 201 && up.status !== 200)
          throw new Error(
            `ollama: uploading ${file.path} (${size} bytes) as ${digest} answered HTTP ${up.status}: ${(await up.text()).slice(0, 300)}`,
          );
      }
      const name = ollamaName(model, version);
      const created = await api(
        'POST',
        '/api/create',
        JSON.stringify({ model: name, files: { [file.path.split('/').pop()!]: digest }, stream: false }),
      );
      if (created.status !== 200)
        throw new Error(
          `ollama: creating ${name} answered HTTP ${created.status}: ${(await created.text()).slice(0, 300)}`,
        );
      await created.body?.cancel();
      const up = openAIUpstream(`${daemon}/v1`, name, options);
      return {
        info: { engine: 'ollama', controlsWeights: true, detail: `${daemon} model ${name}` },
        predict: up.predict,
        openai: up.openai,
        warm: up.checkServes,
        async close() {
          up.close();
          const r = await api('DELETE', '/api/delete', JSON.stringify({ model: name }));
          await r.body?.cancel();
          if (r.status !== 200 && r.status !== 404)
            throw new Error(`ollama: deleting ${name} answered HTTP ${r.status}`);
        },
      };
    },
  };
}
