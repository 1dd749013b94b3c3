// The gateway's public surface: `model-gitops serve` and anything embedding a gateway import from here.
export { Gateway, createGateway, type ApplyResult, type GatewayEvent, type GatewayOptions } from './gateway.ts';
export { GATEWAY_DEFAULTS } from './defaults.ts';
export { HttpError } from './http.ts';
export {
  planApply,
  planRollbacks,
  slotKey,
  type ApplyPlan,
  type PlannedDeployment,
  type PlannedTracker,
  type PlannedVersion,
  type RollbackPlan,
  type ServingSnapshot,
} from './apply-plan.ts';
export type { CanaryStatus, GatewayStatus, ModelStatus, VersionStatus } from './status.ts';
export {
  CallAborted,
  EngineUnavailableError,
  InputError,
  LLAMA_INSTALL_COMMAND,
  NODE_LLAMA_CPP_VERSION,
  bagOfBytesLoader,
  defaultLoaderFor,
  engineOf,
  llamaCppLoader,
  ollamaLoaderFor,
  openAIProxyLoader,
  pytorchLoader,
  vllmLoader,
  type CallContext,
  type ClassifierOutput,
  type EngineInfo,
  type EngineOptions,
  type LlamaCppOptions,
  type LoadContext,
  type LoadedModel,
  type Loader,
  type OllamaOptions,
  type OpenAIChunk,
  type OpenAIKind,
  type OpenAIResult,
  type ProxyOptions,
  type PytorchOptions,
  type VllmOptions,
} from './loaders.ts';
export { FolderVersionSource, type VersionSource } from './source.ts';
export {
  CanaryTracker,
  DEFAULT_MIN_REQUESTS,
  StateStore,
  VersionWindow,
  evaluate,
  type GatewayState,
  type RollbackRecord,
  type RolloutRule,
} from './rollout.ts';
export { Histogram, LATENCY_BOUNDS, VersionMetrics, renderPrometheus } from './metrics.ts';
