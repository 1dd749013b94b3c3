// What an engine is to the gateway: a Loader turns a synced version folder into a LoadedModel, which
// predicts, warms, answers OpenAI-compatible calls (whole or streamed) and closes. Every engine lives in
// this folder; select.ts picks one from the card's serving.engine.
import type { ManifestVersion } from '../../manifest/manifest.ts';

export type OpenAIKind = 'chat/completions' | 'completions';

/** One chunk of a streamed answer, as the OpenAI API streams it (written as one SSE `data:` event). */
export type OpenAIChunk = Record<string, unknown>;

/** An OpenAI-compatible answer: a whole JSON body, or a stream of chunks (HTTP 200, SSE). */
export type OpenAIResult = { status: number; body: unknown } | { status: 200; stream: AsyncIterable<OpenAIChunk> };

/** Per call: the signal fires when the client leaves or a draining version's bound runs out. */
export interface CallContext {
  signal: AbortSignal;
}

/** What status says about a loaded version's engine. */
export interface EngineInfo {
  /** serving.engine as resolved (e.g. 'llama.cpp', 'external'). */
  engine: string;
  /** Whether the weights answering are the synced files this gateway loaded (false for external). */
  controlsWeights: boolean;
  /** The file, endpoint or process it serves from. */
  detail?: string;
  /** In-process engines: generations finished and stopped early (client gone, drain bound). */
  generations?: { completed: number; aborted: number };
}

export interface LoadedModel {
  predict(inputs: unknown, ctx?: CallContext): Promise<unknown>;
  /** Make the first real request fast (and prove the version works) before any traffic reaches it. */
  warm(): Promise<void>;
  close(): Promise<void>;
  /** The OpenAI-compatible endpoints; absent for engines that only predict (the demo MLP). */
  openai?(kind: OpenAIKind, body: Record<string, unknown>, ctx?: CallContext): Promise<OpenAIResult>;
  info?: EngineInfo;
}

/** What else a version needs to load: an adapter's base, materialised (folder and entry). */
export interface LoadContext {
  base?: { model: string; version: string; dir: string; entry: ManifestVersion };
}

export interface Loader {
  load(versionDir: string, entry: ManifestVersion, context?: LoadContext): Promise<LoadedModel>;
}

/** The caller's inputs are wrong: answered with 400 and NOT counted as a failure of the version. */
export class InputError extends Error {
  readonly param: string | undefined;
  constructor(message: string, param?: string) {
    super(message);
    this.name = 'InputError';
    this.param = param;
  }
}

/** The engine's own package or program is missing here: the version is unavailable until it is installed. */
export class EngineUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EngineUnavailableError';
  }
}

/** The call was aborted (client gone, drain bound): neither a success nor a failure of the version. */
export class CallAborted extends Error {
  constructor(message = 'the call was aborted') {
    super(message);
    this.name = 'CallAborted';
  }
}

export const isStream = (r: OpenAIResult): r is { status: 200; stream: AsyncIterable<OpenAIChunk> } => 'stream' in r;

/** The first file of the version ending in `ext` (the card's order), or a clear error naming the version. */
export function versionFile(entry: ManifestVersion, ext: string, engine: string): string {
  const f = entry.files.find((x) => x.path.toLowerCase().endsWith(ext));
  if (!f)
    throw new Error(
      `${engine}: the version has no ${ext} file (files: ${entry.files.map((x) => x.path).join(', ') || 'none'})`,
    );
  return f.path;
}

/** A push queue as an async iterable, for engines that produce text through callbacks. The consumer
 * leaving early (break, throw) calls `onCancel`, which aborts the generation. */
export class ChunkQueue implements AsyncIterable<OpenAIChunk> {
  private readonly items: OpenAIChunk[] = [];
  private wake: (() => void) | undefined;
  private done = false;
  private error: unknown;
  private readonly onCancel: () => void;
  constructor(onCancel: () => void) {
    this.onCancel = onCancel;
  }
  push(chunk: OpenAIChunk): void {
    this.items.push(chunk);
    this.wake?.();
  }
  end(error?: unknown): void {
    this.done = true;
    this.error = error;
    this.wake?.();
  }
  async *[Symbol.asyncIterator](): AsyncIterator<OpenAIChunk> {
    let finished = false;
    try {
      for (;;) {
        if (this.items.length) {
          yield this.items.shift()!;
          continue;
        }
        if (this.done) {
          finished = true;
          if (this.error !== undefined) throw this.error;
          return;
        }
        await new Promise<void>((r) => {
          this.wake = r;
        });
        this.wake = undefined;
      }
    } finally {
      if (!finished) this.onCancel();
    }
  }
}

// ---- OpenAI request fields the in-process engines read ------------------------------------------------

export interface GenerationParams {
  maxTokens: number;
  temperature: number;
  topP: number | undefined;
  seed: number | undefined;
  stop: string[];
  stream: boolean;
}

/** OpenAI's default max_tokens for completions is 16; chat has none, so engines cap it here. */
export const DEFAULT_MAX_TOKENS = { completions: 16, 'chat/completions': 256 } as const;

export function generationParams(
  kind: OpenAIKind,
  body: Record<string, unknown>,
  maxTokensCap: number,
): GenerationParams {
  const num = (name: string, min: number, max: number): number | undefined => {
    const v = body[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max)
      throw new InputError(`"${name}" must be a number from ${min} to ${max} (got ${JSON.stringify(v)})`, name);
    return v;
  };
  const maxTokens = num('max_completion_tokens', 1, maxTokensCap) ?? num('max_tokens', 1, maxTokensCap);
  if (maxTokens !== undefined && !Number.isInteger(maxTokens))
    throw new InputError('"max_tokens" must be an integer', 'max_tokens');
  num('n', 1, 1); // one choice per request: n > 1 is refused, not silently ignored
  const stop = body.stop;
  const stops =
    stop === undefined || stop === null
      ? []
      : typeof stop === 'string'
        ? [stop]
        : Array.isArray(stop) && stop.length <= 4 && stop.every((s) => typeof s === 'string' && s.length > 0)
          ? (stop as string[])
          : undefined;
  if (!stops) throw new InputError('"stop" must be a string or an array of up to 4 non-empty strings', 'stop');
  if (body.stream !== undefined && typeof body.stream !== 'boolean')
    throw new InputError('"stream" must be a boolean', 'stream');
  const seed = num('seed', -(2 ** 31), 2 ** 32 - 1);
  return {
    maxTokens: maxTokens ?? Math.min(DEFAULT_MAX_TOKENS[kind], maxTokensCap),
    temperature: num('temperature', 0, 2) ?? 1,
    topP: num('top_p', 0, 1),
    seed: seed === undefined ? undefined : Math.trunc(seed),
    stop: stops,
    stream: body.stream === true,
  };
}

export interface ChatMessage {
  role: 'system' | 'developer' | 'user' | 'assistant';
  content: string;
}

/** `messages` as plain text turns; content parts of type text are joined, anything else is refused. */
export function chatMessages(body: Record<string, unknown>): ChatMessage[] {
  const m = body.messages;
  if (!Array.isArray(m) || m.length === 0) throw new InputError('"messages" must be a non-empty array', 'messages');
  return m.map((x, i) => {
    const role = (x as { role?: unknown })?.role;
    if (role !== 'system' && role !== 'developer' && role !== 'user' && role !== 'assistant')
      throw new InputError(`messages[${i}].role must be system, developer, user or assistant`, 'messages');
    const c = (x as { content?: unknown }).content;
    const content =
      typeof c === 'string'
        ? c
        : Array.isArray(c) && c.every((p) => p?.type === 'text' && typeof p.text === 'string')
          ? c.map((p) => p.text as string).join('')
          : undefined;
    if (content === undefined)
      throw new InputError(
        `messages[${i}].content must be a string or text parts (this engine reads text only)`,
        'messages',
      );
    return { role, content };
  });
}

export function completionPrompt(body: Record<string, unknown>): string {
  const p = body.prompt;
  if (typeof p === 'string') return p;
  if (Array.isArray(p) && p.length === 1 && typeof p[0] === 'string') return p[0];
  throw new InputError('"prompt" must be a string (one prompt per request on this engine)', 'prompt');
}

/** Ids and the created timestamp of one answer. */
export function answerIds(kind: OpenAIKind): { id: string; created: number; object: string; chunkObject: string } {
  const rand = Math.random().toString(36).slice(2, 14);
  return kind === 'chat/completions'
    ? {
        id: `chatcmpl-${rand}`,
        created: Math.floor(Date.now() / 1000),
        object: 'chat.completion',
        chunkObject: 'chat.completion.chunk',
      }
    : {
        id: `cmpl-${rand}`,
        created: Math.floor(Date.now() / 1000),
        object: 'text_completion',
        chunkObject: 'text_completion',
      };
}

/** Inputs of /predict as chat messages, for generative engines. */
export function predictMessages(inputs: unknown): ChatMessage[] {
  const i = (typeof inputs === 'string' ? { text: inputs } : inputs) as { messages?: unknown; text?: unknown } | null;
  if (Array.isArray(i?.messages)) return chatMessages({ messages: i.messages });
  if (typeof i?.text === 'string') return [{ role: 'user', content: i.text }];
  throw new InputError('inputs must be a string, {"text": string} or {"messages": [...]}');
}
