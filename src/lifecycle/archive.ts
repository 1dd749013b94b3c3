// `archive MODEL@VERSION` as a git change: the version leaves every environment's canary and rollback
// window, and its card gains `archived: {on, reason}` (kept in git for the record; gc may then reclaim
// its bytes). A version that is still some environment's champion is refused: promote another first.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMap, isScalar, isSeq, parseDocument } from 'yaml';
import { UserError } from '../lib/errors.ts';
import type { Registry } from '../registry/load.ts';
import { normaliseDeployment } from '../registry/types.ts';

export interface ArchivePlan {
  model: string;
  version: string;
  on: string;
  reason?: string;
  card: string;
  /** File -> new text, the card included. */
  edits: Map<string, string>;
  /** What changed, one line each, for the commit message and the report. */
  changes: string[];
}

/** `model@version` → its parts; anything else is a usage error naming the expected form. */
export function parseModelAtVersion(s: string): { model: string; version: string } {
  const at = s.lastIndexOf('@');
  if (at <= 0 || at === s.length - 1)
    throw new UserError(`expected MODEL@VERSION (e.g. intent-classifier@1.0.0), got "${s}"`);
  return { model: s.slice(0, at), version: s.slice(at + 1) };
}

export function planArchive(
  repo: string,
  reg: Registry,
  target: string,
  options: { on: string; reason?: string },
): ArchivePlan {
  const { model, version } = parseModelAtVersion(target);
  const entry = reg.models.get(model);
  if (!entry)
    throw new UserError(
      `no model "${model}" in models/ (known: ${[...reg.models.keys()].sort().join(', ') || 'none'})`,
    );
  const v = entry.versions.get(version);
  if (!v) throw new UserError(`${model} has no version ${version} (models/${model}/versions/${version}.yaml)`);
  if (v.card.archived)
    throw new UserError(`${model}@${version} is already archived (on ${v.card.archived.on}): nothing to do`);
  const edits = new Map<string, string>();
  const changes: string[] = [];
  const champions = [...reg.environments.values()].filter((e) => {
    const d = e.deployments.get(model);
    return d && normaliseDeployment(d).version === version;
  });
  if (champions.length)
    throw new UserError(
      `${model}@${version} is the version ${champions.map((e) => e.name).join(', ')} serve${champions.length === 1 ? 's' : ''} ` +
        `(${champions.map((e) => e.file).join(', ')}); promote or roll back to another version there first, then archive`,
    );
  for (const env of [...reg.environments.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    const d = env.deployments.get(model);
    if (!d) continue;
    const dep = normaliseDeployment(d);
    const inCanary = dep.canary?.version === version;
    const inWindow = dep.rollbackWindow.includes(version);
    if (!inCanary && !inWindow) continue;
    const text = readFileSync(join(repo, env.file), 'utf8');
    const doc = parseDocument(text);
    const node = doc.getIn(['models', model], true);
    if (!isMap(node)) continue;
    // Edits on the text itself, by the nodes' source ranges: comments and alignment elsewhere stay byte for byte.
    const cuts: { from: number; to: number; insert: string }[] = [];
    const wholeLines = (from: number, to: number) => {
      const a = text.lastIndexOf('\n', from - 1) + 1;
      const nl = text.indexOf('\n', to);
      return { from: a, to: nl < 0 ? text.length : nl + 1, insert: '' };
    };
    const pairOf = (key: string) => node.items.find((p) => isScalar(p.key) && p.key.value === key);
    const rangeOf = (n: unknown) => (n as { range?: [number, number, number] } | null)?.range;
    if (node.flow && node.range) {
      // `model: {version: …, rollbackWindow: […]}` on one line: rebuild the mapping from its pairs' own text.
      const pieces: string[] = [];
      for (const p of node.items) {
        const key = isScalar(p.key) ? p.key.value : undefined;
        const k = rangeOf(p.key);
        const v = rangeOf(p.value);
        if (!k || !v) continue;
        if (key === 'canary' && inCanary) continue;
        if (key === 'rollbackWindow' && inWindow && isSeq(p.value)) {
          const rest = p.value.items.filter((i) => !(isScalar(i) && String(i.value) === version));
          if (rest.length)
            pieces.push(`rollbackWindow: [${rest.map((i) => String((i as { value: unknown }).value)).join(', ')}]`);
          continue;
        }
        pieces.push(text.slice(k[0], v[1]));
      }
      edits.set(env.file, text.slice(0, node.range[0]) + `{${pieces.join(', ')}}` + text.slice(node.range[1]));
      if (inCanary) changes.push(`${env.file}: canary ${version} dropped`);
      if (inWindow) changes.push(`${env.file}: ${version} removed from the rollback window`);
      continue;
    }
    if (inCanary) {
      const p = pairOf('canary');
      const k = (p?.key as { range?: number[] } | undefined)?.range;
      const v = (p?.value as { range?: number[] } | undefined)?.range;
      if (k && v) cuts.push(wholeLines(k[0]!, v[1]!));
      changes.push(`${env.file}: canary ${version} dropped`);
    }
    if (inWindow) {
      const p = pairOf('rollbackWindow');
      const w = p?.value;
      const k = (p?.key as { range?: number[] } | undefined)?.range;
      if (p && isSeq(w) && k && w.range) {
        const rest = w.items.filter((i) => !(isScalar(i) && String(i.value) === version));
        if (rest.length === 0) cuts.push(wholeLines(k[0]!, w.range[1]!));
        else if (w.flow)
          cuts.push({
            from: w.range[0],
            to: w.range[1],
            insert: `[${rest.map((i) => String((i as { value: unknown }).value)).join(', ')}]`,
          });
        else
          for (const i of w.items)
            if (isScalar(i) && String(i.value) === version && i.range) cuts.push(wholeLines(i.range[0], i.range[1]));
      }
      changes.push(`${env.file}: ${version} removed from the rollback window`);
    }
    let out = text;
    for (const c of cuts.sort((a, b) => b.from - a.from)) out = out.slice(0, c.from) + c.insert + out.slice(c.to);
    edits.set(env.file, out);
  }
  // Appended, not re-serialised: every other byte of the reviewed card stays as it was.
  const cardText = readFileSync(join(repo, v.file), 'utf8');
  const reason = options.reason ? `, reason: ${JSON.stringify(options.reason)}` : '';
  edits.set(v.file, `${cardText}${cardText.endsWith('\n') ? '' : '\n'}archived: {on: ${options.on}${reason}}\n`);
  changes.push(`${v.file}: archived on ${options.on}${options.reason ? ` (${options.reason})` : ''}`);
  return {
    model,
    version,
    on: options.on,
    ...(options.reason ? { reason: options.reason } : {}),
    card: v.file,
    edits,
    changes,
  };
}
