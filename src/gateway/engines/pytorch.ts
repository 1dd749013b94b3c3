// serving.engine: pytorch — a managed Python worker (benchmarks/torch/serve_worker.py, the benchmark
// harness's own loaders: local safetensors only, no hub, no remote code) serves the version folder over
// OpenAI-compatible HTTP on 127.0.0.1. One worker per loaded version; close() stops it after it drained.
// serving.task: 'causal-lm' (completions, chat, streaming) or 'classifier' (predict).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type CallContext, EngineUnavailableError, InputError, type Loader, versionFile } from './engine.ts';
import { startProcess, waitForReadyLine } from './process.ts';
import { openAIUpstream } from './upstream.ts';

export const PYTORCH_WORKER = fileURLToPath(new URL('../../../benchmarks/torch/serve_worker.py', import.meta.url));

export interface PytorchOptions {
  /** Default /usr/bin/python3 (Debian's python3-torch). */
  python?: string;
  /** torch threads per worker. Default 1. */
  threads?: number;
  /** 'cpu' (default) or 'cuda'. */
  device?: string;
  /** How long a worker may take to load. Default 60 s. */
  startTimeoutMs?: number;
}

export function pytorchLoader(options: PytorchOptions = {}): Loader {
  const python = options.python ?? '/usr/bin/python3';
  return {
    async load(versionDir, entry) {
      versionFile(entry, '.safetensors', 'pytorch');
      const task: string = entry.serving?.task ?? 'causal-lm';
      if (task !== 'causal-lm' && task !== 'classifier')
        throw new Error(`pytorch: serving.task must be causal-lm or classifier (got ${JSON.stringify(task)})`);
      if (!existsSync(python))
        throw new EngineUnavailableError(
          `pytorch: ${python} does not exist; install Python 3 with torch (Debian: apt-get install python3-torch)`,
        );
      const name = 'worker';
      const p = startProcess(python, [
        PYTORCH_WORKER,
        '--model-dir',
        versionDir,
        '--kind',
        task,
        '--served-name',
        name,
        '--threads',
        String(options.threads ?? 1),
        '--device',
        options.device ?? 'cpu',
      ]);
      let port: number;
      try {
        port = await waitForReadyLine(p, `pytorch worker (${python})`, options.startTimeoutMs ?? 60_000);
      } catch (e) {
        await p.stop(1_000);
        const msg = (e as Error).message;
        if (/No module named 'torch'/.test(msg))
          throw new EngineUnavailableError(
            `pytorch: ${python} has no torch module; install it (Debian: apt-get install python3-torch)`,
          );
        throw new Error(`pytorch: ${msg}`);
      }
      const up = openAIUpstream(`http://127.0.0.1:${port}/v1`, name);
      return {
        info: { engine: 'pytorch', controlsWeights: true, detail: `${task} worker pid ${p.child.pid}` },
        async predict(inputs: unknown, ctx?: CallContext) {
          if (task === 'causal-lm') return up.predict(inputs, ctx);
          const i =
            typeof inputs === 'object' && inputs !== null && !Array.isArray(inputs) && 'text' in inputs
              ? (inputs as { text: unknown }).text
              : inputs;
          const r = await up.call('POST', 'predict', { inputs: i }, ctx?.signal);
          if (r.status === 400)
            throw new InputError(String((r.body as { error?: { message?: string } })?.error?.message));
          if (r.status !== 200) throw new Error(`pytorch worker answered HTTP ${r.status}`);
          return (r.body as { outputs: unknown }).outputs;
        },
        ...(task === 'causal-lm' ? { openai: up.openai } : {}),
        async warm() {
          await up.checkServes();
          if (task === 'classifier') await up.call('POST', 'predict', { inputs: 'warm-up' });
          else await up.call('POST', 'completions', { model: name, prompt: 'warm', max_tokens: 1, temperature: 0 });
        },
        async close() {
          up.close();
          await p.stop();
        },
      };
    },
  };
}
