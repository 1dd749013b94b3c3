// The gateway's side of evaluation and experiments (the counting and statistics live in src/observe/):
// every answer gets an x-request-id and is counted for its version (outputs, input lengths, tokens);
// POST /v1/feedback attributes an outcome to the version that answered; GET /v1/observations serves
// the counters and the feedback arms for `model-gitops drift`, `experiment report` and `evaluate run`.
import { observeCompletion, observePrediction, observeStreamEnd, parseFeedback } from '../observe/extract.ts';
import { type ObservationsSnapshot, Observations } from '../observe/observations.ts';

export { Observations };

export const REQUEST_ID_HEADER = 'x-request-id';

/** Champion and active canary per model, from the gateway's status (what the experiment compares). */
export function deploymentsOf(status: object): ObservationsSnapshot['deployments'] {
  const models = (
    status as { models?: Record<string, { champion?: string; canary?: { version?: string; state?: string } | null }> }
  ).models;
  const out: ObservationsSnapshot['deployments'] = {};
  for (const [model, m] of Object.entries(models ?? {})) {
    if (typeof m.champion !== 'string') continue;
    out[model] = {
      champion: m.champion,
      ...(m.canary?.version && m.canary.state === 'active' ? { canary: m.canary.version } : {}),
    };
  }
  return out;
}

export type FeedbackAnswer =
  | { status: 200; body: { result: 'recorded'; model?: string; version?: string } }
  | { status: 400 | 404 | 409; code: string; message: string; param?: string };

/** POST /v1/feedback: 200 recorded; 404 unknown or expired id; 409 already answered; 400 malformed. */
export function feedbackAnswer(obs: Observations, body: unknown): FeedbackAnswer {
  const f = parseFeedback(body);
  if ('error' in f) return { status: 400, code: 'bad-request', message: f.error, param: f.param };
  const r = obs.recordFeedback(f.requestId, f.value);
  switch (r.result) {
    case 'recorded':
      return { status: 200, body: { result: 'recorded', model: r.model, version: r.version } };
    case 'duplicate':
      return {
        status: 409,
        code: 'duplicate-feedback',
        message: 'this request already has feedback',
        param: 'request_id',
      };
    case 'evicted':
      return {
        status: 404,
        code: 'request-expired',
        message: `the request left the feedback window (the last ${obs.feedback.capacity} answers are kept)`,
        param: 'request_id',
      };
    default:
      return {
        status: 404,
        code: 'unknown-request',
        message: 'no answer of this gateway has this request id',
        param: 'request_id',
      };
  }
}

export { observeCompletion, observePrediction, observeStreamEnd };
