// The Hugging Face model card (README.md) front matter: the YAML between the first two `---` lines.
// Only the fields a version card has a place for are read; the rest of the README is prose and stays an
// artifact like any other file.
import { parseDocument } from 'yaml';
import { UserError } from '../../lib/errors.ts';
import type { BaseRelation } from '../../registry/types.ts';
import { RELATIONS } from './base.ts';

export interface HfReadmeFacts {
  license?: string;
  /** Hub repo ids of the base model(s), as written. */
  baseModels: string[];
  baseRelation?: BaseRelation;
  /** Hub dataset ids (no digests: the hub does not give one). */
  datasets: string[];
  language: string[];
  pipelineTag?: string;
  notes: string[];
}

const strings = (v: unknown): string[] =>
  typeof v === 'string' ? [v] : Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];

/** Facts from README.md text; undefined when it has no front matter. Malformed front matter is an error. */
export function readHfReadme(text: string, file = 'README.md'): HfReadmeFacts | undefined {
  const m = /^\uFEFF?---\r?\n([\s\S]*?)\r?\n---\s*(?:\r?\n|$)/.exec(text);
  if (!m) return undefined;
  const doc = parseDocument(m[1]!, { version: '1.2', uniqueKeys: true });
  if (doc.errors.length)
    throw new UserError(
      `${file}: the front matter (between the --- lines) is not valid YAML: ${doc.errors[0]!.message.split('\n')[0]}; fix it or remove it`,
    );
  const y = doc.toJSON() as unknown;
  if (y === null || y === undefined) return undefined;
  if (typeof y !== 'object' || Array.isArray(y))
    throw new UserError(`${file}: the front matter is not a mapping of fields (license:, base_model: ...)`);
  const fm = y as Record<string, unknown>;
  const notes: string[] = [];
  const facts: HfReadmeFacts = {
    baseModels: strings(fm.base_model),
    datasets: strings(fm.datasets),
    language: strings(fm.language),
    notes,
  };
  if (typeof fm.license === 'string' && fm.license.trim() !== '') facts.license = fm.license.trim();
  if (typeof fm.pipeline_tag === 'string' && fm.pipeline_tag.trim() !== '') facts.pipelineTag = fm.pipeline_tag.trim();
  const rel = fm.base_model_relation;
  if (typeof rel === 'string') {
    if ((RELATIONS as readonly string[]).includes(rel)) facts.baseRelation = rel as BaseRelation;
    else notes.push(`${file}: base_model_relation "${rel}" is not one of ${RELATIONS.join(', ')}; not used`);
  }
  return facts;
}
