// A small generated intents dataset: templated customer messages with seeded randomness (fillers,
// items, numbers, casing, typos), so the demo models train on the same data on every machine and the
// golden set is a different draw (different seed) from the same distribution.
import { type Rng, mulberry32, pick, randInt, shuffle } from '../lib/prng.ts';

export const INTENT_LABELS = ['greet', 'order', 'cancel_order', 'other'] as const;
export type IntentLabel = (typeof INTENT_LABELS)[number];

export interface Example {
  text: string;
  label: string;
}

const ITEMS = [
  'pizza',
  'coffee',
  'laptop',
  'blue shirt',
  'pair of shoes',
  'phone case',
  'sandwich',
  'book',
  'headphones',
  'tea',
  'lamp',
  'desk chair',
];
const NAMES = ['Ana', 'Sam', 'Lee', 'Maria', 'Tom', 'Priya', 'Jo'];

const TEMPLATES: Record<IntentLabel, ((r: Rng) => string)[]> = {
  greet: [
    () => 'hi',
    () => 'hello',
    () => 'hey there',
    () => 'good morning',
    () => 'good evening',
    (r) => `hi, I'm ${pick(r, NAMES)}`,
    () => 'hello, how are you?',
    () => 'hey! anyone there?',
    () => 'hiya',
    (r) => `hello ${pick(r, NAMES)} here`,
    () => 'howdy',
    () => 'yo, hello',
  ],
  order: [
    (r) => `I want to order a ${pick(r, ITEMS)}`,
    (r) => `can I get ${randInt(r, 5) + 2} ${pick(r, ITEMS)}`,
    (r) => `please send me a ${pick(r, ITEMS)}`,
    (r) => `add a ${pick(r, ITEMS)} to my cart`,
    (r) => `I'd like to buy a ${pick(r, ITEMS)}`,
    (r) => `order ${randInt(r, 9) + 1} ${pick(r, ITEMS)} for delivery`,
    (r) => `buy ${pick(r, ITEMS)} now`,
    (r) => `I'll take the ${pick(r, ITEMS)}, please`,
    (r) => `put in an order for a ${pick(r, ITEMS)}`,
  ],
  cancel_order: [
    () => 'cancel my order',
    (r) => `please cancel order #${randInt(r, 90000) + 10000}`,
    (r) => `I don't want the ${pick(r, ITEMS)} anymore, cancel it`,
    (r) => `stop my order of the ${pick(r, ITEMS)}`,
    () => 'cancel the purchase',
    (r) => `can you cancel the ${pick(r, ITEMS)} I ordered`,
    () => 'I need to cancel, changed my mind',
    (r) => `undo order ${randInt(r, 900) + 100}`,
    () => 'call off my order please',
  ],
  other: [
    () => 'where is my package?',
    () => 'what are your opening hours',
    (r) => `my ${pick(r, ITEMS)} arrived broken`,
    () => 'how do I reset my password',
    () => 'do you ship to Canada?',
    (r) => `is the ${pick(r, ITEMS)} in stock?`,
    () => 'I have a question about my invoice',
    () => 'talk to a human',
    (r) => `track order #${randInt(r, 90000) + 10000}`,
    () => 'thanks, that is all',
    () => 'the website is slow today',
  ],
};

const FILLERS = ['', '', '', 'um ', 'so ', 'ok ', 'please, ', 'hey, '];

function typo(r: Rng, s: string): string {
  if (s.length < 4) return s;
  const i = 1 + randInt(r, s.length - 2);
  switch (randInt(r, 3)) {
    case 0:
      return s.slice(0, i) + s.slice(i + 1); // drop a character
    case 1:
      return s.slice(0, i) + s[i + 1] + s[i] + s.slice(i + 2); // swap two
    default:
      return s.slice(0, i) + s[i] + s.slice(i); // double one
  }
}

function sentence(r: Rng, label: IntentLabel): string {
  let s = pick(r, FILLERS) + pick(r, TEMPLATES[label])(r);
  if (r() < 0.25) s = typo(r, s);
  if (r() < 0.15) s = s.toUpperCase();
  else if (r() < 0.3) s = s[0]!.toUpperCase() + s.slice(1);
  if (r() < 0.2) s += pick(r, ['!', '?', '.', ' thanks', ' :)']);
  return s;
}

/** `count` examples, labels in round-robin then shuffled, so every label is equally represented. */
export function generateIntents(options: { seed: number; count: number; labels?: readonly string[] }): Example[] {
  const labels = options.labels ?? INTENT_LABELS;
  for (const l of labels)
    if (!(INTENT_LABELS as readonly string[]).includes(l))
      throw new Error(`unknown intent label "${l}" (known: ${INTENT_LABELS.join(', ')})`);
  const r = mulberry32(options.seed);
  const out: Example[] = [];
  for (let i = 0; i < options.count; i++) {
    const label = labels[i % labels.length] as IntentLabel;
    out.push({ text: sentence(r, label), label });
  }
  return shuffle(r, out);
}

export const GOLDEN_SEED = 20260901;
export const GOLDEN_COUNT = 400;

/** The golden evaluation set: all four labels, a seed no training set uses. */
export function goldenIntents(): Example[] {
  return generateIntents({ seed: GOLDEN_SEED, count: GOLDEN_COUNT });
}

/** One JSON object per line; the exact bytes are what goldenSetSha256 pins. */
export function toJsonl(examples: Example[]): string {
  return examples.map((e) => JSON.stringify({ text: e.text, label: e.label })).join('\n') + '\n';
}

export function parseJsonl(text: string, file = 'golden set'): Example[] {
  const out: Example[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      throw new Error(`${file}:${i + 1}: not valid JSON: ${(e as Error).message}`);
    }
    const o = v as { text?: unknown; label?: unknown };
    if (typeof o?.text !== 'string' || typeof o.label !== 'string')
      throw new Error(`${file}:${i + 1}: each line needs string fields "text" and "label"`);
    out.push({ text: o.text, label: o.label });
  });
  return out;
}
