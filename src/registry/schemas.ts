// JSON Schema validation of registry files with ajv (draft 2020-12), and the translation of ajv's
// errors into sentences a reviewer understands, placed at the line and column of the offending field.
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import commonSchema from '../../schemas/common.schema.json' with { type: 'json' };
import modelSchema from '../../schemas/model.schema.json' with { type: 'json' };
import versionSchema from '../../schemas/model-version.schema.json' with { type: 'json' };
import environmentSchema from '../../schemas/environment.schema.json' with { type: 'json' };
import { type Diagnostic, type PathSegment, fieldPath, show } from './diagnostics.ts';
import { type YamlFile, locate, sourceText } from './yaml-file.ts';

export type SchemaName = 'model' | 'model-version' | 'environment';

export const SCHEMA_FILES: Record<SchemaName, string> = {
  model: 'model.schema.json',
  'model-version': 'model-version.schema.json',
  environment: 'environment.schema.json',
};

// ajv-formats is CommonJS; under ESM its function is the default export (or its `.default`).
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (
  a: Ajv2020,
) => void;

let compiled: Record<SchemaName, ValidateFunction> | undefined;

/** Extra schemas (e.g. the manifest) register here so one ajv instance serves them all. */
export function createAjv(): Ajv2020 {
  const ajv = new Ajv2020({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true });
  addFormats(ajv);
  // A human description of a pattern, used in messages instead of the regular expression.
  ajv.addKeyword({ keyword: 'patternDescription', schemaType: 'string' });
  // A human description of what a value of several possible shapes must be, used in type errors.
  ajv.addKeyword({ keyword: 'typeDescription', schemaType: 'string' });
  ajv.addSchema(commonSchema);
  return ajv;
}

function validators(): Record<SchemaName, ValidateFunction> {
  if (!compiled) {
    const ajv = createAjv();
    compiled = {
      model: ajv.compile(modelSchema),
      'model-version': ajv.compile(versionSchema),
      environment: ajv.compile(environmentSchema),
    };
  }
  return compiled;
}

export function validateAgainstSchema(y: YamlFile, schema: SchemaName): Diagnostic[] {
  const validate = validators()[schema];
  if (validate(y.data)) return [];
  return humanizeErrors(y, validate.errors ?? []);
}

function pointerToPath(pointer: string): PathSegment[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^(0|[1-9]\d*)$/.test(s) ? Number(s) : s));
}

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  integer: 'a whole number',
  boolean: 'true or false',
  object: 'a mapping (field: value)',
  array: 'a list',
  null: 'empty',
};

function typeOf(v: unknown): string {
  if (v === null) return 'empty';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'number') return Number.isInteger(v) ? 'a whole number' : 'a number';
  if (typeof v === 'boolean') return 'true/false';
  return `a ${typeof v}`;
}

function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

/**
 * Unknown fields reported one by one per mapping; the rest become one summary line. A card of
 * 64,000 stray keys is one mistake (wrong file, bad merge), and a diagnostic per key costs
 * seconds to build and is unreadable.
 */
export const MAX_UNKNOWN_FIELDS_PER_MAPPING = 20;

export function humanizeErrors(y: YamlFile, errors: ErrorObject[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  const seen = new Set<string>();
  const unknownPerMapping = new Map<string, { count: number; summary?: Diagnostic }>();
  for (const e of errors) {
    if (e.keyword === 'additionalProperties') {
      const tally = unknownPerMapping.get(e.instancePath) ?? { count: 0 };
      unknownPerMapping.set(e.instancePath, tally);
      tally.count++;
      if (tally.count > MAX_UNKNOWN_FIELDS_PER_MAPPING) {
        if (!tally.summary) {
          const first = humanize(y, e);
          if (!first) continue;
          tally.summary = first;
          out.push(first);
        }
        const extra = tally.count - MAX_UNKNOWN_FIELDS_PER_MAPPING;
        const where = pointerToPath(e.instancePath);
        tally.summary.message =
          `${extra.toLocaleString('en-US')} more unknown field${extra === 1 ? '' : 's'} ` +
          `${where.length ? `in ${fieldPath(where)}` : 'at the top level'}, from here on (only the first ` +
          `${MAX_UNKNOWN_FIELDS_PER_MAPPING} are listed one by one); is this the right file?`;
        continue;
      }
    }
    const d = humanize(y, e);
    if (!d) continue;
    const key = `${d.line}:${d.column}:${d.field}:${d.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(d);
  }
  return out;
}

function humanize(y: YamlFile, e: ErrorObject): Diagnostic | undefined {
  const path = pointerToPath(e.instancePath);
  const parent = (e.parentSchema ?? {}) as Record<string, unknown>;
  const p = e.params as Record<string, unknown>;
  let fieldSegs = path;
  let target: 'key' | 'value' = 'value';
  let message: string;
  // Errors raised inside `propertyNames` concern a key of the mapping at instancePath.
  const propertyName = (e as ErrorObject & { propertyName?: string }).propertyName;
  if (e.keyword === 'propertyNames' || e.keyword === 'if') return undefined;
  if (propertyName !== undefined) {
    fieldSegs = [...path, propertyName];
    target = 'key';
    const desc =
      typeof parent.patternDescription === 'string'
        ? parent.patternDescription
        : `matching ${String(parent.pattern ?? 'the allowed names')}`;
    message = `${show(propertyName)} is not a valid name here: must be ${desc}`;
  } else {
    switch (e.keyword) {
      case 'required': {
        const missing = String(p.missingProperty);
        fieldSegs = [...path, missing];
        message =
          path.length === 0
            ? `required field "${missing}" is missing`
            : `required field "${missing}" is missing in ${fieldPath(path)}`;
        break;
      }
      case 'additionalProperties': {
        const extra = String(p.additionalProperty);
        fieldSegs = [...path, extra];
        target = 'key';
        const known = Object.keys((parent.properties ?? {}) as object);
        const guess = closest(extra, known);
        message =
          `unknown field "${extra}"` +
          (guess ? `; did you mean "${guess}"?` : known.length ? `; allowed fields: ${known.join(', ')}` : '');
        break;
      }
      case 'type': {
        const want = String(p.type)
          .split(',')
          .map((t) => TYPE_NAMES[t] ?? t)
          .join(' or ');
        // Say what the value must look like (a semantic version, a percentage...), not only its type.
        const desc =
          typeof parent.typeDescription === 'string'
            ? parent.typeDescription
            : p.type === 'string' && typeof parent.patternDescription === 'string'
              ? parent.patternDescription
              : want;
        message = `must be ${desc}, not ${typeOf(e.data)}`;
        const src = sourceText(y, path);
        if (
          src !== undefined &&
          src !== '' &&
          (typeof e.data === 'number' || typeof e.data === 'boolean' || e.data === null)
        ) {
          // Suggest quoting only where the quoted text would be accepted: "5" is no more a percentage than 5.
          const pattern = typeof parent.pattern === 'string' ? new RegExp(parent.pattern, 'u') : undefined;
          const quoting = p.type === 'string' && (pattern === undefined || pattern.test(src));
          message += ` (YAML read ${src} as ${typeOf(e.data)}${quoting ? `; quote it: "${src}"` : ''})`;
        }
        break;
      }
      case 'pattern': {
        const desc =
          typeof parent.patternDescription === 'string'
            ? parent.patternDescription
            : `text matching ${String(p.pattern)}`;
        message = `must be ${desc} (got ${show(e.data)})`;
        break;
      }
      case 'enum':
        message = `must be one of ${(p.allowedValues as unknown[]).map((v) => String(v)).join(', ')} (got ${show(e.data)})`;
        break;
      case 'const':
        message = `must be ${show(p.allowedValue)} (got ${show(e.data)})`;
        break;
      case 'minItems':
        message = p.limit === 1 ? 'must not be an empty list' : `must have at least ${String(p.limit)} items`;
        break;
      case 'maxItems':
        message = `must have at most ${String(p.limit)} items (has ${(e.data as unknown[]).length})`;
        break;
      case 'minLength':
        message = p.limit === 1 ? 'must not be empty' : `must be at least ${String(p.limit)} characters long`;
        break;
      case 'maxLength':
        message = `must be at most ${String(p.limit)} characters long (is ${(e.data as string).length})`;
        break;
      case 'minimum':
      case 'maximum':
      case 'exclusiveMinimum':
      case 'exclusiveMaximum':
        message = `must be ${String(p.comparison)} ${String(p.limit)} (got ${show(e.data)})`;
        break;
      case 'uniqueItems':
        fieldSegs = [...path, Number(p.i)];
        message = `repeats item ${String(p.j)} of ${fieldPath(path)}; each item may appear once`;
        break;
      case 'minProperties':
        message = `must set at least one of: ${Object.keys((parent.properties ?? {}) as object).join(', ')}`;
        break;
      case 'format':
        message =
          p.format === 'date-time'
            ? `must be a date-time such as 2026-06-01T12:00:00Z (got ${show(e.data)})`
            : `must be a valid ${String(p.format)} (got ${show(e.data)})`;
        break;
      default:
        message = e.message ?? 'is not valid';
    }
  }
  const pos = locate(y, fieldSegs, target);
  return {
    file: y.file,
    line: pos.line,
    column: pos.column,
    field: fieldPath(fieldSegs),
    message,
    rule: 'schema',
    severity: 'error',
  };
}
