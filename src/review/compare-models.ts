// The model and version half of the base comparison: renamed model folders, edited model cards,
// immutability of merged versions, semver bumps of new ones, and deletions or renames that leave
// references behind.
import semver from 'semver';
import { type PathSegment, fieldPath } from '../registry/diagnostics.ts';
import { type VersionCard, referencedVersions } from '../registry/types.ts';
import { BUMP_RANK, actualBump, bumpRows, bumpTable, effectiveRank, requiredBump } from './semver-bump.ts';
import type { SemverVerdict } from './check.ts';
import { type ComparisonContext, deploymentField } from './comparison.ts';

/** Fields of a merged version that may still change: wording and later evaluation, nothing that alters the bytes or contract. */
export const MUTABLE_VERSION_FIELDS = new Set(['summary', 'metrics', 'notes', 'deprecated']);

/** Every leaf path where two JSON values differ; lists of different length differ as a whole. */
function diffPaths(a: unknown, b: unknown, path: PathSegment[] = [], out: PathSegment[][] = []): PathSegment[][] {
  if (a === b) return out;
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
    a.forEach((x, i) => diffPaths(x, b[i], [...path, i], out));
    return out;
  }
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys)
      diffPaths((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], [...path, k], out);
    return out;
  }
  out.push(path);
  return out;
}

function valueAt(v: unknown, path: PathSegment[]): unknown {
  let cur = v;
  for (const s of path) cur = cur && typeof cur === 'object' ? (cur as Record<string | number, unknown>)[s] : undefined;
  return cur;
}

const short = (v: unknown): string => {
  if (v === undefined) return 'absent';
  const s = JSON.stringify(v);
  return s.length > 72 ? `${s.slice(0, 69)}...` : s;
};

const sortVersions = (vs: Iterable<string>): string[] => [...vs].sort(semver.compare);

// A model folder that disappears while a new one appears holding the same versions with the same
// artifacts is a rename, not a deletion plus unrelated new versions.
export function detectRenames(ctx: ComparisonContext): void {
  const gone = [...ctx.base.models.values()].filter((m) => !ctx.head.models.has(m.name) && m.versions.size > 0);
  const fresh = [...ctx.head.models.values()].filter((m) => !ctx.base.models.has(m.name) && m.versions.size > 0);
  const digest = (c: VersionCard) =>
    c.artifacts
      .map((a) => `${a.path}:${a.sha256}`)
      .sort()
      .join(',');
  for (const g of gone) {
    const match = fresh.find((f) => {
      if (ctx.renamedFrom.has(f.name)) return false;
      const common = [...g.versions.keys()].filter((v) => f.versions.has(v));
      return (
        common.length > 0 && common.every((v) => digest(g.versions.get(v)!.card) === digest(f.versions.get(v)!.card))
      );
    });
    if (match) {
      ctx.renamedTo.set(g.name, match.name);
      ctx.renamedFrom.set(match.name, g.name);
      ctx.change({
        kind: 'model-renamed',
        file: match.cardFile,
        model: match.name,
        from: g.name,
        to: match.name,
        description: `model ${g.name} renamed to ${match.name} (models/${g.name}/ moved to models/${match.name}/)`,
      });
    }
  }
}

/** A card with names of renamed models replaced by their new names, so a rename alone is no edit. */
function renamed(ctx: ComparisonContext, card: VersionCard): VersionCard {
  if (ctx.renamedTo.size === 0) return card;
  const mapName = (n: string) => ctx.renamedTo.get(n) ?? n;
  const parent = card.lineage.parent;
  const at = parent?.lastIndexOf('@') ?? -1;
  return {
    ...card,
    name: mapName(card.name),
    lineage: {
      ...card.lineage,
      ...(parent !== undefined ? { parent: `${mapName(parent.slice(0, at))}${parent.slice(at)}` } : {}),
    },
    ...(card.dependencies
      ? { dependencies: Object.fromEntries(Object.entries(card.dependencies).map(([k, v]) => [mapName(k), v])) }
      : {}),
  };
}

/** Models and their versions, head against base (after detectRenames). */
export function compareModels(ctx: ComparisonContext): void {
  for (const m of ctx.head.models.values()) {
    const baseModel = ctx.base.models.get(ctx.baseName(m.name));
    if (!baseModel)
      ctx.change({ kind: 'model-added', file: m.cardFile, model: m.name, description: `model ${m.name} added` });
    else if (m.card && baseModel.card) {
      const fields = diffPaths({ ...baseModel.card, name: m.name }, m.card);
      if (fields.length)
        ctx.change(
          {
            kind: 'model-card-edited',
            file: m.cardFile,
            model: m.name,
            fields: fields.map(fieldPath),
            description: `${m.cardFile}: ${fields.map(fieldPath).join(', ')} changed`,
          },
          ctx.head,
          fields[0]!,
        );
    }
    const newVersions: string[] = [];
    for (const [version, { file, card }] of m.versions) {
      const b = ctx.baseCard(m.name, version);
      if (b) compareExisting(ctx, m.name, version, file, card, b.card);
      else newVersions.push(version);
    }
    for (const version of sortVersions(newVersions)) judgeNewVersion(ctx, m.name, version);
  }
  for (const bm of ctx.base.models.values()) {
    const headName = ctx.renamedTo.get(bm.name) ?? bm.name;
    const hm = ctx.head.models.get(headName);
    if (!hm && !ctx.renamedTo.has(bm.name))
      ctx.change(
        { kind: 'model-deleted', file: bm.cardFile, model: bm.name, description: `model ${bm.name} deleted` },
        ctx.base,
      );
    if (ctx.renamedTo.has(bm.name)) checkRenameReferences(ctx, bm.name, headName);
    for (const [version, { file }] of bm.versions) {
      if (hm?.versions.has(version) || hm?.brokenVersions.has(version)) continue;
      ctx.change(
        { kind: 'version-deleted', file, model: bm.name, version, description: `${bm.name} ${version} deleted` },
        ctx.base,
      );
      checkDeletion(ctx, bm.name, version);
    }
  }
}

function compareExisting(
  ctx: ComparisonContext,
  model: string,
  version: string,
  file: string,
  card: VersionCard,
  baseCard: VersionCard,
): void {
  const paths = diffPaths(renamed(ctx, baseCard), renamed(ctx, card));
  if (paths.length === 0) return;
  ctx.change(
    {
      kind: 'version-edited',
      file,
      model,
      version,
      fields: paths.map(fieldPath),
      description: `${model} ${version} edited: ${paths.map(fieldPath).join(', ')}`,
    },
    ctx.head,
    paths[0]!,
  );
  for (const path of paths) {
    if (MUTABLE_VERSION_FIELDS.has(String(path[0]))) continue;
    const before = valueAt(baseCard, path);
    const after = valueAt(card, path);
    const target = after === undefined ? path.slice(0, -1) : path;
    ctx.report(
      file,
      target,
      `${model} ${version} is already on the base branch, so ${fieldPath(path)} may not change (was ${short(before)}, now ${short(after)}); only ${[...MUTABLE_VERSION_FIELDS].join(', ')} may be edited. Publish the change as a new version instead.`,
      'immutable-field',
    );
  }
}

function judgeNewVersion(ctx: ComparisonContext, model: string, version: string): void {
  const m = ctx.head.models.get(model)!;
  const { file, card } = m.versions.get(version)!;
  ctx.change({ kind: 'version-added', file, model, version, description: `${model} ${version} added` }, ctx.head, [
    'version',
  ]);
  // Compare with the highest version whose major.minor.patch is lower: 2.0.0-rc.2 and 2.0.0 are both
  // judged against 1.x, so a release may carry its release candidate's weights unchanged.
  const core = (v: string) => `${semver.major(v)}.${semver.minor(v)}.${semver.patch(v)}`;
  const previous =
    sortVersions(m.versions.keys())
      .filter((v) => semver.lt(core(v), core(version)))
      .pop() ?? null;
  if (previous === null) {
    ctx.verdicts.push({ model, version, file, previous: null, actual: null, required: 'none', ok: true, rows: [] });
    return;
  }
  const rows = bumpRows(m.versions.get(previous)!.card, card);
  const required = requiredBump(rows);
  const actual = actualBump(previous, version);
  const verdict: SemverVerdict = { model, version, file, previous, actual, required, ok: true, rows };
  ctx.verdicts.push(verdict);
  if (required === 'none') {
    verdict.ok = false;
    verdict.duplicateOf = previous;
    ctx.report(
      file,
      ['version'],
      `${model} ${version} is a duplicate of ${previous}: same artifacts, interface, architecture and lineage. Reuse ${previous} (edit its metrics or notes) instead of publishing a copy.`,
      'semver-duplicate',
    );
    return;
  }
  if (effectiveRank(previous, version) < BUMP_RANK[required]) {
    verdict.ok = false;
    const zero = semver.major(previous) === 0 && semver.major(version) === 0;
    const need = zero ? (required === 'major' ? 'minor' : 'patch') : required;
    const next = zero
      ? required === 'major'
        ? semver.inc(previous, 'minor')
        : semver.inc(previous, 'patch')
      : semver.inc(previous, required as 'major' | 'minor' | 'patch');
    ctx.report(
      file,
      ['version'],
      `${model} ${version} is a ${actual} bump over ${previous}, but its changes need a ${need} bump${zero ? ` (0.x: a ${required}-level change needs a ${need} bump)` : ''} (e.g. ${next}):\n${bumpTable(rows)}`,
      'semver-bump',
    );
  }
}

/** After a rename, nothing in the head may still use the old name. */
function checkRenameReferences(ctx: ComparisonContext, from: string, to: string): void {
  const why = `${from} is renamed to ${to} in this change`;
  for (const env of ctx.head.environments.values()) {
    if (env.deployments.has(from))
      ctx.report(
        env.file,
        ['models', from],
        `${why}, but ${env.name} still deploys it as ${from}; write ${to}`,
        'renamed-model-referenced',
        { target: 'key', supersede: ['environment-model'] },
      );
  }
  for (const hm of ctx.head.models.values()) {
    for (const [v, { file, card }] of hm.versions) {
      const parent = card.lineage.parent;
      if (parent?.startsWith(`${from}@`))
        ctx.report(
          file,
          ['lineage', 'parent'],
          `${why}, but ${hm.name}@${v} names ${parent} as lineage.parent; write ${to}${parent.slice(from.length)}`,
          'renamed-model-referenced',
          { supersede: ['lineage-parent'] },
        );
      if (card.dependencies?.[from] !== undefined)
        ctx.report(
          file,
          ['dependencies', from],
          `${why}, but ${hm.name}@${v} still depends on ${from}; write ${to}`,
          'renamed-model-referenced',
          { target: 'key', supersede: ['dependency-unknown'] },
        );
    }
  }
}

/** A deleted version must no longer be named by an environment, a dependency range or a lineage. */
function checkDeletion(ctx: ComparisonContext, model: string, version: string): void {
  const renamedNote = ctx.renamedTo.has(model) ? ` (the model was renamed to ${ctx.renamedTo.get(model)})` : '';
  for (const env of ctx.head.environments.values()) {
    const d = env.deployments.get(model);
    if (!d) continue;
    for (const ref of referencedVersions(d)) {
      if (ref.version !== version) continue;
      ctx.report(
        env.file,
        deploymentField(model, d, ref.role, ref.index),
        `${model} ${version} is deleted in this change, but ${env.name} still lists it as ${ref.role === 'version' ? 'champion' : ref.role === 'canary' ? 'canary' : 'a rollback target'}${renamedNote}`,
        'version-deleted-referenced',
        { supersede: ['environment-version', 'environment-model'] },
      );
    }
  }
  const remaining = [...(ctx.head.models.get(model)?.versions.keys() ?? [])];
  for (const hm of ctx.head.models.values()) {
    for (const [v, { file, card }] of hm.versions) {
      const who = `${hm.name}@${v}`;
      if (card.lineage.parent === `${model}@${version}`) {
        ctx.report(
          file,
          ['lineage', 'parent'],
          `${model} ${version} is deleted in this change, but ${who} names it as lineage.parent${renamedNote}`,
          'version-deleted-referenced',
          { supersede: ['lineage-parent'] },
        );
      }
      const range = card.dependencies?.[model];
      if (
        range !== undefined &&
        semver.validRange(range) !== null &&
        semver.satisfies(version, range) &&
        !remaining.some((r) => semver.satisfies(r, range))
      ) {
        ctx.report(
          file,
          ['dependencies', model],
          `${model} ${version} is deleted in this change, but ${who} depends on ${model} ${range} and no remaining version satisfies it${renamedNote}`,
          'version-deleted-referenced',
          { target: 'key', supersede: ['dependency-unknown'] },
        );
      }
    }
  }
}
