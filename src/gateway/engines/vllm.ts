// serving.engine: vllm, managed — the gateway starts `vllm serve <version folder>` under a served name
// that carries the version (model@version), waits for /health, routes to it, and stops it once the
// version has drained. Runs where vLLM is installed (a GPU runner; see README "Engines").
import { EngineUnavailableError, type Loader } from './engine.ts';
import { freePort, startProcess, waitForHealth } from './process.ts';
import { openAIUpstream, type UpstreamOptions } from './upstream.ts';

export interface VllmOptions extends UpstreamOptions {
  /** The vllm executable. Default `vllm` on PATH. */
  command?: string;
  /** Extra arguments for `vllm serve` (e.g. --gpu-memory-utilization 0.45 so two versions fit during a swap). */
  args?: string[];
  /** How long loading may take. Default 10 minutes (large weights, CUDA graph capture). */
  startTimeoutMs?: number;
}

/** A loader for one version, served as `servedName` (select.ts passes model@version). */
export function vllmLoader(servedName: string, options: VllmOptions = {}): Loader {
  const command = options.command ?? 'vllm';
  return {
    async load(versionDir) {
      const port = await freePort();
      const p = startProcess(command, [
        'serve',
        versionDir,
        '--served-model-name',
        servedName,
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
        ...(options.args ?? []),
      ]);
      try {
        await waitForHealth(
          p,
          `http://127.0.0.1:${port}/health`,
          `vllm serve ${versionDir}`,
          options.startTimeoutMs ?? 600_000,
        );
      } catch (e) {
        await p.stop(2_000);
        if (p.spawnError()?.code === 'ENOENT')
          throw new EngineUnavailableError(
            `vllm: "${command}" is not installed here (pip install vllm, on a GPU runner)`,
          );
        throw new Error(`vllm: ${(e as Error).message}`);
      }
      const up = openAIUpstream(`http://127.0.0.1:${port}/v1`, servedName, options);
      return {
        info: {
          engine: 'vllm',
          controlsWeights: true,
          detail: `vllm serve pid ${p.child.pid} as ${servedName} on port ${port}`,
        },
        predict: up.predict,
        openai: up.openai,
        warm: up.checkServes,
        async close() {
          up.close();
          await p.stop(30_000);
        },
      };
    },
  };
}
