// Loaders turn a materialised version folder into something that predicts. They are pluggable: the
// gateway asks `loaderFor(model, version, entry)` for one. The engines live in engines/ (one file each);
// this module is the gateway's one import point for them.
export {
  CallAborted,
  type CallContext,
  EngineUnavailableError,
  type EngineInfo,
  InputError,
  type LoadContext,
  type LoadedModel,
  type Loader,
  type OpenAIChunk,
  type OpenAIKind,
  type OpenAIResult,
  isStream,
} from './engines/engine.ts';
export { bagOfBytesLoader, type ClassifierOutput } from './engines/demo-mlp.ts';
export { openAIProxyLoader, type ProxyOptions } from './engines/external.ts';
export {
  LLAMA_INSTALL_COMMAND,
  NODE_LLAMA_CPP_VERSION,
  type LlamaCppOptions,
  llamaCppLoader,
} from './engines/llama-cpp.ts';
export { type PytorchOptions, pytorchLoader, PYTORCH_WORKER } from './engines/pytorch.ts';
export { type VllmOptions, vllmLoader } from './engines/vllm.ts';
export { OLLAMA_DEFAULT_ENDPOINT, type OllamaOptions, ollamaLoaderFor, ollamaName } from './engines/ollama.ts';
export { ENGINE_ALIASES, type EngineOptions, defaultLoaderFor, engineOf } from './engines/select.ts';
