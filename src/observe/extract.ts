// What the gateway's counters read from one answered request: the output (a classifier's label, an
// LLM's finish reason), the input's length in characters, and the generated token count when the
// engine reports one. Shapes that carry none of these count as UNLABELLED / length 0, never throw:
// observing must not fail a request that was answered.
import type { Observations } from './observations.ts';

export const UNLABELLED = '(none)';

function textLength(x: unknown): number {
  if (typeof x === 'string') return x.length;
  if (x && typeof x === 'object') {
    const t = (x as { text?: unknown; input?: unknown; prompt?: unknown }).text ?? (x as { input?: unknown }).input;
    if (typeof t === 'string') return t.length;
  }
  return 0;
}

function labelOf(x: unknown): string {
  if (typeof x === 'string') return x;
  if (x && typeof x === 'object') {
    const l = (x as { label?: unknown }).label;
    if (typeof l === 'string') return l;
  }
  return UNLABELLED;
}

/** POST /v1/models/<m>/predict: one count per batch item, one request id for the request. */
export function observePrediction(
  obs: Observations,
  model: string,
  version: string,
  inputs: unknown,
  outputs: unknown,
  now = Date.now(),
): string {
  if (Array.isArray(inputs) && Array.isArray(outputs) && outputs.length > 0) {
    for (let i = 1; i < outputs.length; i++)
      obs.count(model, version, labelOf(outputs[i]), textLength(inputs[i]), -1, now);
    return obs.record(model, version, labelOf(outputs[0]), textLength(inputs[0]), -1, now);
  }
  return obs.record(
    model,
    version,
    labelOf(Array.isArray(outputs) ? outputs[0] : outputs),
    textLength(inputs),
    -1,
    now,
  );
}

/** The OpenAI endpoints (whole answers): finish reason of the first choice, completion tokens, prompt length. */
/** Characters of the prompt or of the messages' contents: the input-length statistic of LLM requests. */
function promptLength(body: Record<string, unknown>): number {
  let n = 0;
  if (Array.isArray(body.messages))
    for (const m of body.messages) {
      const c = (m as { content?: unknown } | null)?.content;
      if (typeof c === 'string') n += c.length;
    }
  else if (typeof body.prompt === 'string') n = body.prompt.length;
  return n;
}

/**
 * A streamed completion that ended, under the id issued when it started: its finish reason (from the
 * last chunk that had one) and its completion tokens (the final chunk's usage, when the engine sends
 * one; otherwise unknown).
 */
export function observeStreamEnd(
  obs: Observations,
  model: string,
  version: string,
  body: Record<string, unknown>,
  end: { finish: string | undefined; completionTokens: number | undefined },
  now = Date.now(),
): void {
  obs.count(model, version, end.finish ?? UNLABELLED, promptLength(body), end.completionTokens ?? -1, now);
}

export function observeCompletion(
  obs: Observations,
  model: string,
  version: string,
  body: Record<string, unknown>,
  response: unknown,
  now = Date.now(),
): string {
  const inputLength = promptLength(body);
  const r = response as { choices?: { finish_reason?: unknown }[]; usage?: { completion_tokens?: unknown } } | null;
  const finish = r?.choices?.[0]?.finish_reason;
  const tokens = r?.usage?.completion_tokens;
  return obs.record(
    model,
    version,
    typeof finish === 'string' ? finish : UNLABELLED,
    inputLength,
    typeof tokens === 'number' && tokens >= 0 ? tokens : -1,
    now,
  );
}

/** POST /v1/feedback body: {"request_id": "...", "outcome": true|false} or {"request_id": "...", "value": 4.5}. */
export function parseFeedback(body: unknown): { requestId: string; value: number } | { error: string; param: string } {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return { error: 'the body must be a JSON object with "request_id" and "outcome" or "value"', param: 'request_id' };
  const b = body as { request_id?: unknown; outcome?: unknown; value?: unknown };
  if (typeof b.request_id !== 'string' || b.request_id.length === 0 || b.request_id.length > 64)
    return {
      error: '"request_id" must be the x-request-id of an answer (a string of at most 64 characters)',
      param: 'request_id',
    };
  if ((b.outcome === undefined) === (b.value === undefined))
    return { error: 'give exactly one of "outcome" (true/false) or "value" (a number)', param: 'outcome' };
  if (b.outcome !== undefined) {
    if (typeof b.outcome !== 'boolean') return { error: '"outcome" must be true or false', param: 'outcome' };
    return { requestId: b.request_id, value: b.outcome ? 1 : 0 };
  }
  if (typeof b.value !== 'number' || !Number.isFinite(b.value) || Math.abs(b.value) > 1e12)
    return { error: '"value" must be a finite number (|value| <= 1e12)', param: 'value' };
  return { requestId: b.request_id, value: b.value };
}
