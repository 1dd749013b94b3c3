// Which engine serves a version: the card's serving.engine, explicitly. Without one, a card naming an
// endpoint is external (the behaviour before engines were explicit) and any other is the demo MLP.
import type { ManifestVersion } from '../../manifest/manifest.ts';
import { bagOfBytesLoader } from './demo-mlp.ts';
import type { Loader } from './engine.ts';
import { openAIProxyLoader, type ProxyOptions } from './external.ts';
import { type LlamaCppOptions, llamaCppLoader } from './llama-cpp.ts';
import { type OllamaOptions, ollamaLoaderFor } from './ollama.ts';
import { type PytorchOptions, pytorchLoader } from './pytorch.ts';
import { type VllmOptions, vllmLoader } from './vllm.ts';

/** Per-engine settings of this gateway (threads, devices, executables): the machine's, not the card's. */
export interface EngineOptions {
  llamaCpp?: LlamaCppOptions;
  pytorch?: PytorchOptions;
  vllm?: VllmOptions;
  ollama?: OllamaOptions;
  external?: ProxyOptions;
}

/** serving.engine values and the engine each means ('torch' and 'openai-compatible' are older names). */
export const ENGINE_ALIASES: Readonly<Record<string, string>> = {
  builtin: 'builtin',
  'demo-mlp': 'builtin',
  'llama.cpp': 'llama.cpp',
  pytorch: 'pytorch',
  torch: 'pytorch',
  vllm: 'vllm',
  ollama: 'ollama',
  external: 'external',
  'openai-compatible': 'external',
};

/** The engine a version runs on. Throws (the version is then unavailable) for one this gateway lacks. */
export function engineOf(entry: ManifestVersion): string {
  const named = entry.serving?.engine;
  if (named === undefined) return entry.serving?.endpoint ? 'external' : 'builtin';
  const engine = ENGINE_ALIASES[named];
  if (!engine)
    throw new Error(
      `serving.engine "${named}" has no engine in this gateway (it has: ${[...new Set(Object.values(ENGINE_ALIASES))].join(', ')})`,
    );
  return engine;
}

export function defaultLoaderFor(
  options: EngineOptions = {},
): (model: string, version: string, entry: ManifestVersion) => Loader {
  const external = openAIProxyLoader(options.external);
  const llama = llamaCppLoader(options.llamaCpp);
  const pytorch = pytorchLoader(options.pytorch);
  return (model, version, entry) => {
    switch (engineOf(entry)) {
      case 'llama.cpp':
        return llama;
      case 'pytorch':
        return pytorch;
      case 'vllm':
        return vllmLoader(`${model}@${version}`, options.vllm);
      case 'ollama':
        return ollamaLoaderFor(model, version, options.ollama);
      case 'external':
        return external;
      default:
        return bagOfBytesLoader;
    }
  };
}
