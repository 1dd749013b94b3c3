// Every schema is documented for editors (yaml-language-server shows these on hover): an $id, a title
// and a description at the top, and a description on every property of every object.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createAjv } from '../src/registry/schemas.ts';
import { ROOT } from './helpers.ts';

const dir = join(ROOT, 'schemas');
const files = readdirSync(dir).filter((f) => f.endsWith('.schema.json'));

function undocumented(node: unknown, path: string, out: string[]): string[] {
  if (Array.isArray(node)) node.forEach((v, i) => undocumented(v, `${path}/${i}`, out));
  else if (node && typeof node === 'object') {
    const props = (node as Record<string, unknown>).properties;
    if (props && typeof props === 'object') {
      for (const [k, v] of Object.entries(props))
        if (v && typeof v === 'object' && !('description' in v)) out.push(`${path}/properties/${k}`);
    }
    for (const [k, v] of Object.entries(node)) undocumented(v, `${path}/${k}`, out);
  }
  return out;
}

describe('JSON Schemas', () => {
  it.each(files)('%s has $id, title, description, a description on every property, and compiles', (file) => {
    const schema = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Record<string, unknown>;
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.$id).toBe(`https://model-gitops.dev/schemas/${file}`);
    expect(typeof schema.title).toBe('string');
    expect(typeof schema.description).toBe('string');
    expect(undocumented(schema, '', [])).toEqual([]);
    const ajv = createAjv();
    if (file !== 'common.schema.json') expect(() => ajv.compile(schema)).not.toThrow();
  });

  it('covers every schema file', () => {
    expect(files.length).toBeGreaterThanOrEqual(7);
  });
});
