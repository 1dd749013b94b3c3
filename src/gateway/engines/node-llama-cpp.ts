// The part of node-llama-cpp 3.x the gateway uses, typed here so the project typechecks without the
// optional package installed (its own .d.ts exist only after `npm run engines:llama`). The names and
// shapes follow node-llama-cpp's dist/*.d.ts (getLlama, LlamaModel, LlamaContext, LlamaCompletion,
// LlamaChat); the engine tests run every one of them against the real package.
export interface NodeLlamaCpp {
  getLlama(options: {
    gpu?: false | 'auto' | 'cuda' | 'vulkan' | 'metal';
    build?: 'never';
    logLevel?: unknown;
  }): Promise<Llama>;
  LlamaLogLevel: { error: unknown };
  LlamaCompletion: new (options: { contextSequence: LlamaContextSequence }) => LlamaCompletion;
  LlamaChat: new (options: { contextSequence: LlamaContextSequence }) => LlamaChat;
}

export interface Llama {
  loadModel(options: { modelPath: string }): Promise<LlamaModel>;
  dispose(): Promise<void>;
}

export interface LlamaModel {
  readonly trainContextSize: number;
  createContext(options: {
    contextSize?: number;
    sequences?: number;
    threads?: number;
    lora?: { adapters: { filePath: string; scale?: number }[] };
  }): Promise<LlamaContext>;
  tokenize(text: string): readonly unknown[];
  dispose(): Promise<void>;
}

export interface LlamaContext {
  getSequence(): LlamaContextSequence;
  dispose(): Promise<void>;
}

export interface LlamaContextSequence {
  clearHistory(): Promise<void>;
}

export interface LlamaGenerateOptions {
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  seed?: number;
  signal?: AbortSignal;
  onToken?: (tokens: readonly unknown[]) => void;
  onTextChunk?: (text: string) => void;
  customStopTriggers?: readonly string[];
}

export interface LlamaGenerateResult {
  response: string;
  metadata: { stopReason: string };
}

export interface LlamaCompletion {
  generateCompletion(input: string, options?: LlamaGenerateOptions): Promise<string>;
  generateCompletionWithMeta(input: string, options?: LlamaGenerateOptions): Promise<LlamaGenerateResult>;
}

export type LlamaChatHistoryItem =
  | { type: 'system'; text: string }
  | { type: 'user'; text: string }
  | { type: 'model'; response: string[] };

export interface LlamaChat {
  generateResponse(history: LlamaChatHistoryItem[], options?: LlamaGenerateOptions): Promise<LlamaGenerateResult>;
}

/** The specifier in a variable: TypeScript does not resolve it, so a missing package is a runtime matter. */
const SPECIFIER: string = 'node-llama-cpp';

/** node-llama-cpp, imported on demand; rejects when it is not installed. */
export function importNodeLlamaCpp(): Promise<NodeLlamaCpp> {
  return import(SPECIFIER) as Promise<NodeLlamaCpp>;
}
