// What the gateway reads from answered requests, and the feedback body's validation.
import { describe, expect, it } from 'vitest';
import { lengthBucket } from '../../src/observe/counters.ts';
import { observeCompletion, observePrediction, parseFeedback, UNLABELLED } from '../../src/observe/extract.ts';
import { Observations } from '../../src/observe/observations.ts';

const outputsOf = (o: Observations) => o.snapshot({}, 10).versions[0]!.windows[0]!;

describe('observePrediction / observeCompletion', () => {
  it('a batch counts every item and gets one request id', () => {
    const o = new Observations({ prefix: 'x-' });
    const id = observePrediction(o, 'm', '1', ['hi', 'order pizza'], [{ label: 'greet' }, { label: 'order' }], 5);
    expect(id).toBe('x-1');
    const w = outputsOf(o);
    expect(w.outputs).toEqual({ greet: 1, order: 1 });
    expect(w.inputLength[lengthBucket(2)]).toBe(1);
    expect(w.inputLength[lengthBucket(11)]).toBe(1);
    expect(o.feedback.counts.issued).toBe(1);
  });

  it('single inputs ({text}), string outputs and unknown shapes never throw', () => {
    const o = new Observations({ prefix: 'x-' });
    observePrediction(o, 'm', '1', { text: 'hello' }, { label: 'greet' }, 5);
    observePrediction(o, 'm', '1', 'abc', 'other', 5);
    observePrediction(o, 'm', '1', 42, null, 5);
    observePrediction(o, 'm', '1', [], [], 5);
    expect(outputsOf(o).outputs).toEqual({ greet: 1, other: 1, [UNLABELLED]: 2 });
  });

  it('completions: finish reason, completion tokens and prompt length', () => {
    const o = new Observations({ prefix: 'x-' });
    observeCompletion(
      o,
      'llm',
      '1',
      { messages: [{ role: 'user', content: 'abcd' }, { role: 'x' }] },
      {
        choices: [{ finish_reason: 'length' }],
        usage: { completion_tokens: 16 },
      },
      5,
    );
    observeCompletion(o, 'llm', '1', { prompt: 'hi' }, { choices: [] }, 5);
    const w = outputsOf(o);
    expect(w.outputs).toEqual({ length: 1, [UNLABELLED]: 1 });
    expect(w.tokens![lengthBucket(16)]).toBe(1);
    expect(w.tokens!.reduce((a, b) => a + b)).toBe(1); // no usage: no token count
    expect(w.inputLength[lengthBucket(4)]).toBe(1);
  });
});

describe('parseFeedback', () => {
  it('accepts an outcome or a value', () => {
    expect(parseFeedback({ request_id: 'a-1', outcome: true })).toEqual({ requestId: 'a-1', value: 1 });
    expect(parseFeedback({ request_id: 'a-1', outcome: false })).toEqual({ requestId: 'a-1', value: 0 });
    expect(parseFeedback({ request_id: 'a-1', value: -2.5 })).toEqual({ requestId: 'a-1', value: -2.5 });
  });
  it('refuses each malformed body naming the field', () => {
    const cases: [unknown, string, RegExp][] = [
      [null, 'request_id', /JSON object/],
      [[1], 'request_id', /JSON object/],
      [{ outcome: true }, 'request_id', /request_id/],
      [{ request_id: 'x'.repeat(65), outcome: true }, 'request_id', /at most 64/],
      [{ request_id: 'a' }, 'outcome', /exactly one/],
      [{ request_id: 'a', outcome: 1 }, 'outcome', /true or false/],
      [{ request_id: 'a', value: '3' }, 'value', /finite number/],
      [{ request_id: 'a', value: Number.POSITIVE_INFINITY }, 'value', /finite number/],
    ];
    for (const [body, param, re] of cases) {
      const r = parseFeedback(body) as { error: string; param: string };
      expect(r.param, JSON.stringify(body)).toBe(param);
      expect(r.error).toMatch(re);
    }
  });
});
