// The model and version half of the base comparison: renamed model folders, edited model cards,
// immutability of merged versions, semver bumps of new ones, and deletions or renames that leave
// references behind.
import semver from 'semver';
import { type PathSegment, fieldPath } from '../registry/diagnostics.ts';
import { type Artifact, type ModelEntry, type VersionCard, referencedVersions } from '../registry/types.ts';
import { BUMP_RANK, type Bump, actualBump, bumpRows, bumpTable, effectiveRank, requiredBump } from './semver-bump.ts';
import type { FollowerVerdict, SemverVerdict } from './check.ts';
import { type ComparisonContext, deploymentField } from './comparison.ts';

/** Fields of a merged version that may still change: wording and later evaluation, nothing that alters the bytes or contract. */
export const MUTABLE_VERSION_FIELDS = new Set(['summary', 'metrics', 'notes', 'deprecated', 'archived']);

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

// Build metadata breaks ties (a version without it first), so twins come in a stable order.
const sortVersions = (vs: Iterable<string>): string[] => [...vs].sort(semver.compareBuild);

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
    ...(card.base ? { base: { ...card.base, model: mapName(card.base.model) } } : {}),
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
    const twins = buildMetadataTwins(ctx, m);
    for (const version of sortVersions(newVersions)) judgeNewVersion(ctx, m.name, version, twins);
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

/** One difference in a merged card: where it is in the head card, and what it was and is. */
interface FieldDiff {
  path: PathSegment[];
  before: unknown;
  after: unknown;
  /** Where to point in the head file when not at `path` (a removed entry: the list). */
  at?: PathSegment[];
  /** What the message calls it when not `path` itself. */
  label?: string;
  /** The message's "(...)" when not "was X, now Y". */
  detail?: string;
}

/**
 * Where a merged card and its head differ, as immutability sees them. `artifacts` is a set of files
 * keyed by path: order has no meaning (the artifact digest, the store and sync all go by content),
 * except which `.safetensors` file is listed first, which is the one the builtin engine loads.
 * An absent `dependencies` is `{}`: no dependencies either way (the manifest leaves both out).
 */
function frozenDiffs(ctx: ComparisonContext, baseCard: VersionCard, card: VersionCard): FieldDiff[] {
  const a = renamed(ctx, baseCard) as unknown as Record<string, unknown>;
  const b = renamed(ctx, card) as unknown as Record<string, unknown>;
  const out: FieldDiff[] = [];
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (key === 'artifacts') {
      out.push(...artifactDiffs(baseCard.artifacts, card.artifacts));
      continue;
    }
    const [x, y] = key === 'dependencies' ? [a[key] ?? {}, b[key] ?? {}] : [a[key], b[key]];
    for (const path of diffPaths(x, y, [key]))
      out.push({ path, before: valueAt(baseCard, path), after: valueAt(card, path) });
  }
  return out;
}

function artifactDiffs(before: Artifact[], after: Artifact[]): FieldDiff[] {
  const out: FieldDiff[] = [];
  const old = new Map(before.map((x) => [x.path, x]));
  const now = new Set(after.map((x) => x.path));
  after.forEach((x, i) => {
    const was = old.get(x.path);
    if (!was) out.push({ path: ['artifacts', i], before: undefined, after: x });
    else
      for (const p of diffPaths(was, x))
        out.push({ path: ['artifacts', i, ...p], before: valueAt(was, p), after: valueAt(x, p) });
  });
  for (const x of before)
    if (!now.has(x.path))
      out.push({
        path: ['artifacts'],
        before: x,
        after: undefined,
        at: ['artifacts'],
        detail: `removed ${x.path}, sha256 ${x.sha256}, size ${x.size}`,
      });
  // Both lists keep the same files, yet another .safetensors file comes first: the builtin engine
  // (src/gateway/loaders.ts) would load different weights.
  const weights = (xs: Artifact[]) => xs.findIndex((x) => x.path.endsWith('.safetensors'));
  const wb = weights(before);
  const wa = weights(after);
  if (wb >= 0 && wa >= 0) {
    const from = before[wb]!.path;
    const to = after[wa]!.path;
    if (from !== to && now.has(from) && old.has(to))
      out.push({
        path: ['artifacts', wa, 'path'],
        before: from,
        after: to,
        label: 'the first .safetensors file, which the builtin engine loads,',
        detail: `was ${from}, now ${to}`,
      });
  }
  return out;
}

function compareExisting(
  ctx: ComparisonContext,
  model: string,
  version: string,
  file: string,
  card: VersionCard,
  baseCard: VersionCard,
): void {
  const diffs = frozenDiffs(ctx, baseCard, card);
  if (diffs.length === 0) return;
  const fields = [...new Set(diffs.map((d) => fieldPath(d.path)))];
  ctx.change(
    {
      kind: 'version-edited',
      file,
      model,
      version,
      fields,
      description: `${model} ${version} edited: ${fields.join(', ')}`,
    },
    ctx.head,
    diffs[0]!.at ?? diffs[0]!.path,
  );
  for (const d of diffs) {
    if (MUTABLE_VERSION_FIELDS.has(String(d.path[0]))) continue;
    const target = d.at ?? (d.after === undefined ? d.path.slice(0, -1) : d.path);
    ctx.report(
      file,
      target,
      `${model} ${version} is already on the base branch, so ${d.label ?? fieldPath(d.path)} may not change (${d.detail ?? `was ${short(d.before)}, now ${short(d.after)}`}); only ${[...MUTABLE_VERSION_FIELDS].join(', ')} may be edited. Publish the change as a new version instead.`,
      'immutable-field',
    );
  }
}

const core = (v: string) => `${semver.major(v)}.${semver.minor(v)}.${semver.patch(v)}`;
const buildOf = (v: string) => semver.parse(v)!.build.join('.');

/**
 * New versions that differ from another version of the model only by build metadata, each with the
 * version it duplicates. Build metadata does not count for precedence, so 2.1.0+rebuild.1 is 2.1.0:
 * of such twins the merged one is the version (else the one without build metadata, else the first),
 * and each new one is refused at its own card.
 */
function buildMetadataTwins(ctx: ComparisonContext, m: ModelEntry): Map<string, string> {
  const groups = new Map<string, string[]>();
  for (const v of m.versions.keys()) {
    const key = semver.parse(v)!.version;
    groups.set(key, [...(groups.get(key) ?? []), v]);
  }
  const refused = new Map<string, string>();
  for (const members of groups.values()) {
    if (members.length < 2) continue;
    const merged = members.filter((v) => ctx.baseCard(m.name, v) !== undefined);
    const plain = (v: string) => buildOf(v) === '';
    const kept = merged.find(plain) ?? merged[0] ?? members.find(plain) ?? members[0]!;
    for (const v of members) if (v !== kept && !merged.includes(v)) refused.set(v, kept);
  }
  return refused;
}

/** The bump a `required`-level change needs between two versions, with the 0.x note when it applies. */
function needed(previous: string, version: string, required: Bump): { need: string; note: string; next: string } {
  const zero = semver.major(previous) === 0 && semver.major(version) === 0;
  if (!zero) return { need: required, note: '', next: semver.inc(previous, required as 'major' | 'minor' | 'patch')! };
  const need = required === 'major' ? 'minor' : 'patch';
  return {
    need,
    note: ` (0.x: a ${required}-level change needs a ${need} bump)`,
    next: semver.inc(previous, need)!,
  };
}

function judgeNewVersion(ctx: ComparisonContext, model: string, version: string, twins: Map<string, string>): void {
  const m = ctx.head.models.get(model)!;
  const { file, card } = m.versions.get(version)!;
  ctx.change({ kind: 'version-added', file, model, version, description: `${model} ${version} added` }, ctx.head, [
    'version',
  ]);
  const twin = twins.get(version);
  if (twin !== undefined) {
    refuseTwin(ctx, m, version, twin);
    return;
  }
  // Compare with the highest version whose major.minor.patch is lower: 2.0.0-rc.2 and 2.0.0 are both
  // judged against 1.x, so a release may carry its release candidate's weights unchanged.
  const candidates = sortVersions(m.versions.keys()).filter((v) => !twins.has(v));
  const previous = candidates.filter((v) => semver.lt(core(v), core(version))).pop() ?? null;
  if (previous === null) {
    const verdict: SemverVerdict = {
      model,
      version,
      file,
      previous: null,
      actual: null,
      required: 'none',
      ok: true,
      rows: [],
    };
    ctx.verdicts.push(verdict);
    judgeFollower(ctx, m, version, previous, candidates, verdict);
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
  } else if (effectiveRank(previous, version) < BUMP_RANK[required]) {
    verdict.ok = false;
    const { need, note, next } = needed(previous, version, required);
    ctx.report(
      file,
      ['version'],
      `${model} ${version} is a ${actual} bump over ${previous}, but its changes need a ${need} bump${note} (e.g. ${next}):\n${bumpTable(rows)}`,
      'semver-bump',
    );
  }
  judgeFollower(ctx, m, version, previous, candidates, verdict);
}

/**
 * A new version inserted below a merged one (2.2.0 between 2.1.0 and 2.3.0, or below the lowest) becomes
 * what that merged version follows: the merged version must still be a valid bump over it, judged as if
 * it were new. Merged cards cannot change, so a refusal lands on the inserted card. A higher version
 * added in the same change needs no second look: it is judged against the insert as any new version.
 */
function judgeFollower(
  ctx: ComparisonContext,
  m: ModelEntry,
  version: string,
  previous: string | null,
  candidates: string[],
  verdict: SemverVerdict,
): void {
  const higher = candidates.filter((v) => semver.gt(core(v), core(version)));
  if (higher.length === 0) return;
  // The next release line up: the release and its prereleases all follow `version` now.
  const followers = higher.filter((v) => core(v) === core(higher[0]!) && ctx.baseCard(m.name, v) !== undefined);
  const { file, card } = m.versions.get(version)!;
  // Nothing below it: it goes under the lowest version (unless a prerelease of its own line is there).
  const lowest = candidates.find((v) => v !== version) === higher[0];
  const where = (f: string) =>
    previous !== null ? `between ${previous} and ${f}` : `below ${higher[0]}${lowest ? ', the lowest version' : ''}`;
  for (const f of followers) {
    const rows = bumpRows(card, m.versions.get(f)!.card);
    const required = requiredBump(rows);
    const actual = actualBump(version, f);
    const ok = required !== 'none' && effectiveRank(version, f) >= BUMP_RANK[required];
    const judged: FollowerVerdict = { version: f, actual, required, ok, rows };
    if (!verdict.next || (verdict.next.ok && !ok)) verdict.next = judged;
    if (ok) continue;
    verdict.ok = false;
    const between = where(f);
    if (required === 'none') {
      ctx.report(
        file,
        ['version'],
        `${m.name} ${version} is inserted ${between}, but it is a copy of merged ${f} (same artifacts, interface, architecture and lineage), so ${f} would be a duplicate of it. Reuse ${f} instead of publishing it again under a lower number.`,
        'semver-insert',
      );
      continue;
    }
    const { need, note } = needed(version, f, required);
    ctx.report(
      file,
      ['version'],
      `${m.name} ${version} is inserted ${between}, and merged ${f} would then be a ${actual} bump over ${version}, but what ${f} changes relative to ${version} needs a ${need} bump${note}:\n${bumpTable(rows)}\n${f} is merged and cannot change: make ${version} something ${f} follows with a ${actual} bump, or publish it above ${f}.`,
      'semver-insert',
    );
  }
}

/** A new card that is another version with build metadata added or changed: the same version, refused. */
function refuseTwin(ctx: ComparisonContext, m: ModelEntry, version: string, kept: string): void {
  const { file, card } = m.versions.get(version)!;
  const keptEntry = m.versions.get(kept)!;
  const merged = ctx.baseCard(m.name, kept) !== undefined;
  const rows = bumpRows(keptEntry.card, card);
  ctx.verdicts.push({
    model: m.name,
    version,
    file,
    previous: kept,
    actual: 'none',
    required: requiredBump(rows),
    ok: false,
    duplicateOf: kept,
    samePrecedenceAs: kept,
    rows,
  });
  const fields = [...new Set(rows.map((r) => r.field))];
  ctx.report(
    file,
    ['version'],
    `${m.name} ${version} has the same precedence as ${merged ? 'merged ' : ''}${kept}; build metadata (+${buildOf(version) || buildOf(kept)}) cannot make a new version. ${
      fields.length === 0
        ? `It has the same content as ${kept}: remove it.`
        : `It differs from ${kept} in ${fields.join(', ')}: publish it under a new version number, which is judged like any new version.`
    }`,
    'identity-duplicate',
    { supersede: ['identity-duplicate'] },
  );
  // Validation reports one of the twins by file order; when every other twin is refused here, what it
  // reported on the kept card is this same problem.
  const others = [...m.versions.keys()].filter(
    (v) => v !== kept && semver.parse(v)!.version === semver.parse(kept)!.version,
  );
  if (others.every((v) => ctx.baseCard(m.name, v) === undefined))
    ctx.supersedes.add(`${keptEntry.file}|version|identity-duplicate`);
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
      if (card.base?.model === from)
        ctx.report(
          file,
          ['base', 'model'],
          `${why}, but ${hm.name}@${v} still names ${from} as its base; write ${to}`,
          'renamed-model-referenced',
          { supersede: ['base-unknown'] },
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
