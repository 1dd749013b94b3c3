// serving.engine: external — an OpenAI-compatible server someone else runs. The gateway routes to
// serving.endpoint / serving.modelId and does NOT control which weights answer: a hot-swap or rollback
// changes x-served-version, the server decides the weights. Status says so (controlsWeights: false).
import type { Loader } from './engine.ts';
import { type UpstreamOptions, openAIUpstream } from './upstream.ts';

export type ProxyOptions = UpstreamOptions;

export function openAIProxyLoader(options: ProxyOptions = {}): Loader {
  return {
    async load(_versionDir, entry) {
      const endpoint = entry.serving?.endpoint;
      const modelId = entry.serving?.modelId;
      if (!endpoint || !modelId)
        throw new Error(
          'external: an OpenAI-compatible server needs serving.endpoint and serving.modelId in the version card',
        );
      const up = openAIUpstream(endpoint, modelId, options);
      return {
        info: { engine: 'external', controlsWeights: false, detail: `${up.endpoint} model ${modelId}` },
        predict: up.predict,
        openai: up.openai,
        // Reachable, and actually serving the model id the card names.
        warm: up.checkServes,
        async close() {
          up.close();
        },
      };
    },
  };
}
