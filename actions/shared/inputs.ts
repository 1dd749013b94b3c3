// Shared by the actions: typed getters over the runner's inputs (INPUT_* variables, read with
// @actions/core). Each action names its inputs once, as constants matching its action.yml, and reads
// them only through these; a bad value is a UserError that names the input, so the step fails with
// that one line and no stack.
import * as core from '@actions/core';
import { UserError } from '../../src/lib/errors.ts';

/** The input as given (trimmed), or `fallback` when it is empty or not set. */
export function stringInput(name: string, fallback = ''): string {
  return core.getInput(name) || fallback;
}

/** The input, or undefined when it is empty or not set. */
export function optionalInput(name: string): string | undefined {
  return core.getInput(name) || undefined;
}

/** The input; empty or not set is a UserError. */
export function requiredInput(name: string): string {
  const value = core.getInput(name);
  if (value === '') throw new UserError(`input ${name} is required and was not supplied`);
  return value;
}

/** 'true' or 'false' in any case; empty or not set gives `fallback`; anything else is a UserError. */
export function booleanInput(name: string, fallback: boolean): boolean {
  const raw = core.getInput(name);
  if (raw === '') return fallback;
  const v = raw.toLowerCase();
  if (v !== 'true' && v !== 'false') throw new UserError(`input ${name} must be 'true' or 'false', got "${raw}"`);
  return v === 'true';
}

/** A whole number greater than 0 (a size, a count); empty or not set gives `fallback`. */
export function positiveIntInput(name: string, fallback: number): number;
export function positiveIntInput(name: string): number | undefined;
export function positiveIntInput(name: string, fallback?: number): number | undefined {
  return wholeNumber(name, fallback, (n) => n > 0, 'a positive whole number');
}

/** A whole number from `min` (to `max` when given); empty or not set gives `fallback`. */
export function intInput(name: string, range: { min: number; max?: number; fallback: number }): number;
export function intInput(name: string, range: { min: number; max?: number }): number | undefined;
export function intInput(name: string, range: { min: number; max?: number; fallback?: number }): number | undefined {
  const { min, max } = range;
  const what = max === undefined ? `a whole number >= ${min}` : `a whole number from ${min} to ${max}`;
  return wholeNumber(name, range.fallback, (n) => n >= min && (max === undefined || n <= max), what);
}

/** One value per line (a YAML block scalar in the workflow); blank lines are dropped, each line trimmed. */
export function listInput(name: string): string[] {
  return core
    .getInput(name)
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

function wholeNumber(
  name: string,
  fallback: number | undefined,
  ok: (n: number) => boolean,
  what: string,
): number | undefined {
  const raw = core.getInput(name);
  if (raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || !ok(n)) throw new UserError(`input ${name} must be ${what}, got "${raw}"`);
  return n;
}
