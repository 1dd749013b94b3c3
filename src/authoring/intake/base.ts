// The card's `base`: from --base MODEL@RANGE, or resolved from the folder. A PEFT adapter's
// adapter_config.json (base_model_name_or_path) or a README's base_model names a hub repo; the base is the
// registry model whose cards were imported from that repo (lineage.source.repo), at ^ its highest such
// version. A --parent that has a base passes it on.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import semver from 'semver';
import { parseDocument } from 'yaml';
import { UserError } from '../../lib/errors.ts';
import { MODEL_NAME } from '../../registry/load.ts';
import type { BaseRef, BaseRelation } from '../../registry/types.ts';
import type { FolderFacts } from './inspect.ts';

export const RELATIONS: readonly BaseRelation[] = ['adapter', 'merge', 'quantized', 'finetune'];

/** A relation named by a person (--base-relation, the action's base-relation input); `what` names where it came from. */
export function parseBaseRelation(value: string, what = '--base-relation'): BaseRelation {
  if (!(RELATIONS as readonly string[]).includes(value))
    throw new UserError(`${what} "${value}" must be one of ${RELATIONS.join(', ')}`);
  return value as BaseRelation;
}

export function parseBaseFlag(value: string, relation: BaseRelation): BaseRef {
  const at = value.indexOf('@');
  const model = at > 0 ? value.slice(0, at) : '';
  const range = at > 0 ? value.slice(at + 1) : '';
  if (!MODEL_NAME.test(model) || semver.validRange(range) === null)
    throw new UserError(`--base "${value}" must be MODEL@RANGE, e.g. llama-base@^1.2.0`);
  if (!RELATIONS.includes(relation))
    throw new UserError(`--base-relation "${relation}" must be one of ${RELATIONS.join(', ')}`);
  return { model, range, relation };
}

/** Registry versions imported from a hub repo: model -> versions. */
async function importedFrom(repo: string, hubRepo: string): Promise<{ model: string; version: string }[]> {
  const out: { model: string; version: string }[] = [];
  const models = await readdir(join(repo, 'models')).catch(() => [] as string[]);
  for (const m of models.sort()) {
    const versions = await readdir(join(repo, 'models', m, 'versions')).catch(() => [] as string[]);
    for (const f of versions) {
      if (!f.endsWith('.yaml')) continue;
      const text = await readFile(join(repo, 'models', m, 'versions', f), 'utf8').catch(() => '');
      const doc = parseDocument(text, { version: '1.2' });
      if (doc.errors.length) continue;
      const src = doc.getIn(['lineage', 'source', 'repo']);
      const version = f.slice(0, -'.yaml'.length);
      if (typeof src === 'string' && src.toLowerCase() === hubRepo.toLowerCase() && semver.valid(version))
        out.push({ model: m, version });
    }
  }
  return out;
}

export async function resolveBase(
  repo: string,
  folder: FolderFacts,
  parentCard: { label: string; text: string } | undefined,
  relationFlag: BaseRelation | undefined,
  notes: string[],
): Promise<BaseRef | undefined> {
  const relation: BaseRelation =
    relationFlag ?? (folder.peft ? 'adapter' : (folder.readme?.baseRelation ?? 'finetune'));
  const hubIds = [
    ...(folder.peft?.baseModel
      ? [{ id: folder.peft.baseModel, from: 'adapter_config.json base_model_name_or_path' }]
      : []),
    ...(folder.readme?.baseModels ?? []).map((id) => ({ id, from: 'README.md base_model' })),
  ];
  for (const { id, from } of hubIds) {
    const found = await importedFrom(repo, id);
    if (found.length === 0) continue;
    const models = [...new Set(found.map((f) => f.model))];
    if (models.length > 1) {
      notes.push(`${from} ${id}: several models were imported from it (${models.join(', ')}); pass --base MODEL@RANGE`);
      return undefined;
    }
    const highest = found.map((f) => f.version).sort(semver.rcompare)[0]!;
    const base = { model: models[0]!, range: `^${semver.parse(highest)!.version}`, relation };
    notes.push(
      `base ${base.model}@${base.range} (${relation}): ${from} ${id} is the source of ${base.model}@${highest}`,
    );
    return base;
  }
  if (parentCard) {
    const doc = parseDocument(parentCard.text, { version: '1.2' });
    const b = doc.get('base') as unknown;
    const j =
      b && typeof b === 'object' && 'toJSON' in b ? ((b as { toJSON: () => unknown }).toJSON() as BaseRef) : undefined;
    if (j && typeof j.model === 'string' && typeof j.range === 'string' && RELATIONS.includes(j.relation)) {
      notes.push(`base ${j.model}@${j.range} (${j.relation}) inherited from ${parentCard.label}`);
      return { model: j.model, range: j.range, relation: j.relation };
    }
  }
  if (hubIds.length && !folder.peft)
    notes.push(
      `${hubIds[0]!.from} names ${hubIds[0]!.id}, which no card in models/ was imported from; pass --base MODEL@RANGE to record the base`,
    );
  return undefined;
}
