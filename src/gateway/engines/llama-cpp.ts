// serving.engine: llama.cpp — the version folder's GGUF runs in this process through node-llama-cpp.
// node-llama-cpp is optional (not in the default install): it is imported only when a llama.cpp
// version loads, and a version loaded without it is unavailable with the one-line install command.
// Each loaded version owns a model, a context and a small pool of sequences (parallel generations);
// close() disposes them, which the gateway calls only after the version's last request drained.
import { join } from 'node:path';
import {
  CallAborted,
  type CallContext,
  ChunkQueue,
  type EngineInfo,
  EngineUnavailableError,
  type GenerationParams,
  type Loader,
  type LoadedModel,
  type OpenAIChunk,
  type OpenAIKind,
  type OpenAIResult,
  answerIds,
  chatMessages,
  completionPrompt,
  generationParams,
  predictMessages,
  versionFile,
} from './engine.ts';
import {
  type Llama,
  type LlamaChat,
  type LlamaCompletion,
  type LlamaContext,
  type LlamaContextSequence,
  type LlamaModel,
  type NodeLlamaCpp,
  importNodeLlamaCpp,
} from './node-llama-cpp.ts';

/** The one pinned version (package.json's engines:llama script installs exactly this). */
export const NODE_LLAMA_CPP_VERSION = '3.21.1';
export const LLAMA_INSTALL_COMMAND = 'npm run engines:llama';

export interface LlamaCppOptions {
  /** CPU threads per generation. Default: node-llama-cpp's choice (all cores); set it on shared machines. */
  threads?: number;
  /** Context window in tokens per sequence. Default 2048 (or the model's, when smaller). */
  contextSize?: number;
  /** Generations one version runs at once; more wait for a free sequence. Default 2. */
  sequences?: number;
  /** 'auto' uses a GPU when node-llama-cpp finds one. Default false (CPU). */
  gpu?: false | 'auto' | 'cuda' | 'vulkan' | 'metal';
  /** Upper bound on max_tokens a request may ask for. Default 4096. */
  maxTokensCap?: number;
  /** How node-llama-cpp is imported (default importNodeLlamaCpp()); tests pass a failing one. */
  importer?: () => Promise<unknown>;
}

/** A sequence with its completion and chat evaluators, made once and reused by every request on it. */
interface Lane {
  seq: LlamaContextSequence;
  completion: LlamaCompletion;
  chat: LlamaChat | undefined;
}

let binding: Promise<{ lib: NodeLlamaCpp; llama: Llama }> | undefined;
let bindingGpu: LlamaCppOptions['gpu'];

/** node-llama-cpp and its native binding, once per process (getLlama takes ~300 ms). */
async function llamaBinding(
  gpu: LlamaCppOptions['gpu'],
  importer?: LlamaCppOptions['importer'],
): Promise<{ lib: NodeLlamaCpp; llama: Llama }> {
  if (binding && bindingGpu === gpu && !importer) return binding;
  const loading = (async () => {
    let lib: NodeLlamaCpp;
    try {
      lib = (await (importer ? importer() : importNodeLlamaCpp())) as NodeLlamaCpp;
    } catch (e) {
      throw new EngineUnavailableError(
        `llama.cpp: node-llama-cpp is not installed (${(e as Error).message.split('\n')[0]}); install it with: ${LLAMA_INSTALL_COMMAND}`,
      );
    }
    // Prebuilt binaries only: a gateway never compiles llama.cpp at start-up.
    const llama = await lib.getLlama({ gpu: gpu ?? false, build: 'never', logLevel: lib.LlamaLogLevel.error });
    return { lib, llama };
  })();
  if (importer) return loading;
  bindingGpu = gpu;
  binding = loading;
  loading.catch(() => {
    if (binding === loading) binding = undefined;
  });
  return loading;
}

export function llamaCppLoader(options: LlamaCppOptions = {}): Loader {
  return {
    async load(versionDir, entry, context) {
      const file = versionFile(entry, '.gguf', 'llama.cpp');
      const { lib, llama } = await llamaBinding(options.gpu, options.importer);
      // An adapter (a LoRA GGUF) runs on its base's GGUF; each adapter version gets its own copy of the
      // base, since llama.cpp frees adapters only with their model.
      const base = context?.base;
      const baseFile = base ? versionFile(base.entry, '.gguf', 'llama.cpp') : undefined;
      const modelPath = base ? join(base.dir, baseFile!) : join(versionDir, file);
      let model: LlamaModel;
      try {
        model = await llama.loadModel({ modelPath });
      } catch (e) {
        const what = base ? `the base ${base.model}@${base.version} (${baseFile})` : file;
        throw new Error(`llama.cpp: could not load ${what}: ${(e as Error).message}`);
      }
      let ctx: LlamaContext;
      try {
        const trained = model.trainContextSize;
        ctx = await model.createContext({
          contextSize: Math.min(options.contextSize ?? 2048, trained > 0 ? trained : Number.MAX_SAFE_INTEGER),
          sequences: options.sequences ?? 2,
          ...(options.threads === undefined ? {} : { threads: options.threads }),
          ...(base ? { lora: { adapters: [{ filePath: join(versionDir, file) }] } } : {}),
        });
      } catch (e) {
        await model.dispose();
        const what = base ? `the adapter ${file} on ${base.model}@${base.version}` : file;
        throw new Error(`llama.cpp: could not create a context for ${what}: ${(e as Error).message}`);
      }
      const detail = base ? `${file} (LoRA) on ${base.model}@${base.version} ${baseFile}` : file;
      return new LlamaCppVersion(lib, model, ctx, detail, options.sequences ?? 2, options.maxTokensCap ?? 4096);
    },
  };
}

class LlamaCppVersion implements LoadedModel {
  readonly info: EngineInfo & { generations: { completed: number; aborted: number } };
  private readonly free: Lane[] = [];
  private readonly waiting: ((lane: Lane) => void)[] = [];
  private readonly lib: NodeLlamaCpp;
  private readonly model: LlamaModel;
  private readonly context: LlamaContext;
  private readonly maxTokensCap: number;

  constructor(
    lib: NodeLlamaCpp,
    model: LlamaModel,
    context: LlamaContext,
    file: string,
    sequences: number,
    cap: number,
  ) {
    this.lib = lib;
    this.model = model;
    this.context = context;
    this.maxTokensCap = cap;
    this.info = { engine: 'llama.cpp', controlsWeights: true, detail: file, generations: { completed: 0, aborted: 0 } };
    for (let i = 0; i < sequences; i++) {
      const seq = context.getSequence();
      this.free.push({ seq, completion: new lib.LlamaCompletion({ contextSequence: seq }), chat: undefined });
    }
  }

  private async acquire(signal?: AbortSignal): Promise<Lane> {
    const s = this.free.pop();
    if (s) return s;
    return new Promise((resolve, reject) => {
      const take = (seq: Lane) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(seq);
      };
      const onAbort = () => {
        this.waiting.splice(this.waiting.indexOf(take), 1);
        reject(new CallAborted());
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(take);
    });
  }

  private release(s: Lane): void {
    const next = this.waiting.shift();
    if (next) next(s);
    else this.free.push(s);
  }

  /** One generation on a free sequence; text pieces go to `onText` as llama.cpp decodes them. */
  private async generate(
    kind: OpenAIKind,
    body: Record<string, unknown>,
    p: GenerationParams,
    signal: AbortSignal | undefined,
    onText?: (text: string) => void,
  ): Promise<{ text: string; finish: 'stop' | 'length'; promptTokens: number; completionTokens: number }> {
    const lane = await this.acquire(signal);
    const seq = lane.seq;
    let completionTokens = 0;
    const common = {
      maxTokens: p.maxTokens,
      temperature: p.temperature,
      ...(p.topP === undefined ? {} : { topP: p.topP }),
      ...(p.seed === undefined ? {} : { seed: p.seed }),
      ...(signal ? { signal } : {}),
      onToken: (t: readonly unknown[]) => {
        completionTokens += t.length;
      },
      ...(onText ? { onTextChunk: onText } : {}),
    };
    try {
      await seq.clearHistory(); // every request starts from an empty context: same input, same answer
      if (kind === 'completions') {
        const prompt = completionPrompt(body);
        const completion = lane.completion;
        {
          const r = await completion.generateCompletionWithMeta(prompt, {
            ...common,
            ...(p.stop.length ? { customStopTriggers: p.stop } : {}),
          });
          this.info.generations.completed++;
          return {
            text: r.response,
            finish: r.metadata.stopReason === 'maxTokens' ? 'length' : 'stop',
            promptTokens: this.model.tokenize(prompt).length,
            completionTokens,
          };
        }
      }
      const messages = chatMessages(body);
      lane.chat ??= new this.lib.LlamaChat({ contextSequence: seq });
      const chat = lane.chat;
      {
        const history = [
          ...messages.map((m) =>
            m.role === 'assistant'
              ? { type: 'model' as const, response: [m.content] }
              : m.role === 'user'
                ? { type: 'user' as const, text: m.content }
                : { type: 'system' as const, text: m.content },
          ),
          { type: 'model' as const, response: [] },
        ];
        const r = await chat.generateResponse(history, {
          ...common,
          ...(p.stop.length ? { customStopTriggers: p.stop } : {}),
        });
        this.info.generations.completed++;
        return {
          text: r.response,
          finish: r.metadata.stopReason === 'maxTokens' ? 'length' : 'stop',
          promptTokens: this.model.tokenize(messages.map((m) => m.content).join('\n')).length,
          completionTokens,
        };
      }
    } catch (e) {
      if (signal?.aborted) {
        this.info.generations.aborted++;
        throw new CallAborted((signal.reason as Error)?.message);
      }
      throw e;
    } finally {
      this.release(lane);
    }
  }

  async openai(kind: OpenAIKind, body: Record<string, unknown>, ctx?: CallContext): Promise<OpenAIResult> {
    const p = generationParams(kind, body, this.maxTokensCap);
    if (kind === 'chat/completions')
      chatMessages(body); // refuse bad input before anything is sent
    else completionPrompt(body);
    const ids = answerIds(kind);
    const model = String(body.model);
    if (!p.stream) {
      const r = await this.generate(kind, body, p, ctx?.signal);
      const usage = {
        prompt_tokens: r.promptTokens,
        completion_tokens: r.completionTokens,
        total_tokens: r.promptTokens + r.completionTokens,
      };
      const choice =
        kind === 'chat/completions'
          ? { index: 0, message: { role: 'assistant', content: r.text }, logprobs: null, finish_reason: r.finish }
          : { index: 0, text: r.text, logprobs: null, finish_reason: r.finish };
      return {
        status: 200,
        body: { id: ids.id, object: ids.object, created: ids.created, model, choices: [choice], usage },
      };
    }
    // Streamed: the engine pushes text pieces as it decodes them; the consumer leaving aborts it.
    const local = new AbortController();
    const signal = ctx?.signal ? AbortSignal.any([ctx.signal, local.signal]) : local.signal;
    const queue = new ChunkQueue(() => local.abort(new CallAborted('the stream was closed')));
    const chunk = (choice: Record<string, unknown>): OpenAIChunk => ({
      id: ids.id,
      object: ids.chunkObject,
      created: ids.created,
      model,
      choices: [choice],
    });
    if (kind === 'chat/completions')
      queue.push(chunk({ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }));
    const onText = (text: string) =>
      queue.push(
        chunk(
          kind === 'chat/completions'
            ? { index: 0, delta: { content: text }, logprobs: null, finish_reason: null }
            : { index: 0, text, logprobs: null, finish_reason: null },
        ),
      );
    this.generate(kind, body, p, signal, onText).then(
      (r) => {
        queue.push(
          chunk(
            kind === 'chat/completions'
              ? { index: 0, delta: {}, logprobs: null, finish_reason: r.finish }
              : { index: 0, text: '', logprobs: null, finish_reason: r.finish },
          ),
        );
        queue.end();
      },
      (e: unknown) => queue.end(e),
    );
    return { status: 200, stream: queue };
  }

  async predict(inputs: unknown, ctx?: CallContext): Promise<unknown> {
    const messages = predictMessages(inputs);
    const body = { messages };
    const r = await this.generate(
      'chat/completions',
      body,
      generationParams('chat/completions', { temperature: 0 }, this.maxTokensCap),
      ctx?.signal,
    );
    return { text: r.text, finishReason: r.finish };
  }

  async warm(): Promise<void> {
    // One short greedy completion: proves the file decodes and pages the weights in.
    await this.generate(
      'completions',
      { prompt: 'warm' },
      generationParams('completions', { max_tokens: 1, temperature: 0 }, 1),
      undefined,
    );
  }

  async close(): Promise<void> {
    await this.context.dispose();
    await this.model.dispose();
  }
}
