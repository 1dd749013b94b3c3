// What a new version changed against the version before it, and the smallest semver bump that says so.
// Each row names the field, what happened to it and the bump it needs, so a refused bump can show why.
import semver from 'semver';
import type { TensorSpec, VersionCard } from '../registry/types.ts';

export type Bump = 'major' | 'minor' | 'patch' | 'none';
export const BUMP_RANK: Record<Bump, number> = { none: 0, patch: 1, minor: 2, major: 3 };
const RANK_BUMP: Bump[] = ['none', 'patch', 'minor', 'major'];

export interface BumpRow {
  /** Field path in the new card, e.g. `interface.outputs.label.labels`. */
  field: string;
  change: string;
  needs: Bump;
  why: string;
}

const WHY = {
  break: 'interface break: callers built against the earlier version stop working',
  additive: 'interface addition: callers keep working, but may now see something new',
  training: 'new training: the model may behave differently',
  weights: 'weights changed: same contract and training recipe',
} as const;

const json = (v: unknown): string =>
  JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b)))
      : x,
  );
const same = (a: unknown, b: unknown): boolean => json(a) === json(b);
const list = (xs: string[]): string => xs.map((x) => JSON.stringify(x)).join(', ');

function tensors(rows: BumpRow[], kind: 'inputs' | 'outputs', before: TensorSpec[], after: TensorSpec[]): void {
  const prev = new Map(before.map((t) => [t.name, t]));
  const next = new Map(after.map((t) => [t.name, t]));
  const one = kind === 'inputs' ? 'input' : 'output';
  for (const [name, p] of prev) {
    const n = next.get(name);
    const field = `interface.${kind}.${name}`;
    if (!n) {
      rows.push({ field, change: `${one} "${name}" removed`, needs: 'major', why: WHY.break });
      continue;
    }
    if (p.dtype !== n.dtype)
      rows.push({ field: `${field}.dtype`, change: `dtype ${p.dtype} -> ${n.dtype}`, needs: 'major', why: WHY.break });
    if (!same(p.shape, n.shape))
      rows.push({
        field: `${field}.shape`,
        change: `shape ${json(p.shape ?? null)} -> ${json(n.shape ?? null)}`,
        needs: 'major',
        why: WHY.break,
      });
    const pl = p.labels ?? [];
    const nl = n.labels ?? [];
    const removed = pl.filter((l) => !nl.includes(l));
    const added = nl.filter((l) => !pl.includes(l));
    if (removed.length)
      rows.push({
        field: `${field}.labels`,
        change: `label${removed.length > 1 ? 's' : ''} ${list(removed)} removed`,
        needs: 'major',
        why: WHY.break,
      });
    if (added.length)
      rows.push({
        field: `${field}.labels`,
        change: `label${added.length > 1 ? 's' : ''} ${list(added)} added`,
        needs: kind === 'inputs' ? 'major' : 'minor',
        why: kind === 'inputs' ? WHY.break : WHY.additive,
      });
  }
  for (const name of next.keys()) {
    if (prev.has(name)) continue;
    // A new input is something existing callers do not send; a new output is something they may ignore.
    if (kind === 'inputs')
      rows.push({ field: `interface.inputs.${name}`, change: `input "${name}" added`, needs: 'major', why: WHY.break });
    else
      rows.push({
        field: `interface.outputs.${name}`,
        change: `output "${name}" added`,
        needs: 'minor',
        why: WHY.additive,
      });
  }
}

/**
 * Rows for every change between `prev` and `next` that matters to semver. `baseline` is prev's version:
 * a new card whose lineage.parent is that very version is derived from it, which by itself is no news.
 */
export function bumpRows(prev: VersionCard, next: VersionCard): BumpRow[] {
  const rows: BumpRow[] = [];
  tensors(rows, 'inputs', prev.interface.inputs, next.interface.inputs);
  tensors(rows, 'outputs', prev.interface.outputs, next.interface.outputs);
  // configSha256 is judged on its own below, so recording it for the first time is no tokenizer change.
  const tok = (t: VersionCard['interface']['tokenizer']) => t && { name: t.name, sha256: t.sha256 };
  const pt = tok(prev.interface.tokenizer);
  const nt = tok(next.interface.tokenizer);
  if (!same(pt, nt)) {
    const change = !pt
      ? `tokenizer added (${nt!.name})`
      : !nt
        ? `tokenizer removed (${pt.name})`
        : pt.name !== nt.name
          ? `tokenizer ${pt.name} -> ${nt.name}`
          : `tokenizer ${pt.name} file changed (sha256 ${pt.sha256.slice(0, 12)}... -> ${nt.sha256.slice(0, 12)}...)`;
    rows.push({
      field: 'interface.tokenizer',
      change,
      needs: 'major',
      why: 'interface break: token ids change for callers that tokenize themselves',
    });
  }
  promptRows(rows, prev, next);
  baseRows(rows, prev, next);
  const pa = prev.architecture;
  const na = next.architecture;
  if (pa.family !== na.family)
    rows.push({
      field: 'architecture.family',
      change: `family ${pa.family} -> ${na.family}`,
      needs: 'major',
      why: 'interface break: a different network; engines and adapters built for the old one break',
    });
  if (pa.format !== na.format)
    rows.push({
      field: 'architecture.format',
      change: `format ${pa.format} -> ${na.format}`,
      needs: 'major',
      why: 'interface break: loaders for the old file format cannot read it',
    });
  if (pa.parameters !== na.parameters)
    rows.push({
      field: 'architecture.parameters',
      change: `parameters ${pa.parameters ?? '-'} -> ${na.parameters ?? '-'}`,
      needs: 'patch',
      why: WHY.weights,
    });
  if (pa.dtype !== na.dtype)
    rows.push({
      field: 'architecture.dtype',
      change: `dtype ${pa.dtype ?? '-'} -> ${na.dtype ?? '-'}`,
      needs: 'patch',
      why: WHY.weights,
    });

  const pl = prev.lineage;
  const nl = next.lineage;
  // A DVC-tracked dataset may carry only its md5 (what DVC records): either digest identifies the data.
  const ds = (l: VersionCard['lineage']) =>
    (l.datasets ?? []).map((d) => `${d.name}@${d.sha256 ?? (d.md5 ? `md5:${d.md5}` : '')}`).sort();
  if (!same(ds(pl), ds(nl))) {
    const before = new Set((pl.datasets ?? []).map((d) => d.name));
    const names = (nl.datasets ?? []).map((d) => d.name);
    rows.push({
      field: 'lineage.datasets',
      change: `datasets ${list([...before])} -> ${list(names)}`,
      needs: 'minor',
      why: WHY.training,
    });
  }
  if (!same(pl.hyperparameters ?? {}, nl.hyperparameters ?? {})) {
    const keys = new Set([...Object.keys(pl.hyperparameters ?? {}), ...Object.keys(nl.hyperparameters ?? {})]);
    const changed = [...keys].filter((k) => !same(pl.hyperparameters?.[k], nl.hyperparameters?.[k]));
    rows.push({
      field: 'lineage.hyperparameters',
      change: `hyperparameters changed: ${changed.join(', ')}`,
      needs: 'minor',
      why: WHY.training,
    });
  }
  if (!same(pl.code, nl.code))
    rows.push({
      field: 'lineage.code',
      change: `training code ${pl.code.repository}@${pl.code.commit.slice(0, 7)} -> ${nl.code.repository}@${nl.code.commit.slice(0, 7)}`,
      needs: 'minor',
      why: WHY.training,
    });
  // Being derived from the previous version itself is what a new version usually is; only a parent
  // other than both the previous version and the previous version's own parent means new training.
  const derivedFromPrev = nl.parent === `${prev.name}@${prev.version}`;
  if (nl.parent !== pl.parent && !derivedFromPrev)
    rows.push({
      field: 'lineage.parent',
      change: `parent ${pl.parent ?? '-'} -> ${nl.parent ?? '-'}`,
      needs: 'minor',
      why: WHY.training,
    });
  if (!same(pl.training, nl.training))
    rows.push({ field: 'lineage.training', change: 'a different training run', needs: 'patch', why: WHY.weights });

  const prevArtifacts = new Map(prev.artifacts.map((a) => [a.path, a]));
  const nextArtifacts = new Map(next.artifacts.map((a) => [a.path, a]));
  for (const [path, a] of nextArtifacts) {
    const b = prevArtifacts.get(path);
    if (!b) rows.push({ field: 'artifacts', change: `file ${path} added`, needs: 'patch', why: WHY.weights });
    else if (a.sha256 !== b.sha256 || a.size !== b.size)
      rows.push({
        field: 'artifacts',
        change: `${path} sha256 ${b.sha256.slice(0, 12)}... -> ${a.sha256.slice(0, 12)}...`,
        needs: 'patch',
        why: WHY.weights,
      });
  }
  for (const path of prevArtifacts.keys())
    if (!nextArtifacts.has(path))
      rows.push({ field: 'artifacts', change: `file ${path} removed`, needs: 'patch', why: WHY.weights });

  if (!same(prev.dependencies ?? {}, next.dependencies ?? {}))
    rows.push({
      field: 'dependencies',
      change: `dependencies ${json(prev.dependencies ?? {})} -> ${json(next.dependencies ?? {})}`,
      needs: 'minor',
      why: 'deployment requirements changed: environments must now hold different versions of other models',
    });
  if (!same(prev.serving ?? {}, next.serving ?? {}))
    rows.push({
      field: 'serving',
      change: `serving ${json(prev.serving ?? {})} -> ${json(next.serving ?? {})}`,
      needs: 'patch',
      why: 'served differently',
    });
  return rows;
}

/**
 * The chat template and tokenizer_config.json are part of the interface: callers that render prompts
 * themselves (a completions endpoint, llama.cpp with a raw prompt, a client-side template) send what the
 * old template produced, and a model tuned on the new one answers worse or stops at the wrong tokens. So a
 * changed or removed template (or tokenizer config) is a major bump, like a tokenizer change. Recording
 * one for the first time changes nothing callers see: a patch.
 */
function promptRows(rows: BumpRow[], prev: VersionCard, next: VersionCard): void {
  const digest = (
    field: string,
    what: string,
    before: string | undefined,
    after: string | undefined,
    why: string,
  ): void => {
    if (before === after) return;
    if (before === undefined)
      rows.push({
        field,
        change: `${what} digest recorded`,
        needs: 'patch',
        why: 'metadata: first record of an unchanged contract',
      });
    else
      rows.push({
        field,
        change:
          after === undefined
            ? `${what} removed`
            : `${what} changed (sha256 ${before.slice(0, 12)}... -> ${after.slice(0, 12)}...)`,
        needs: 'major',
        why,
      });
  };
  digest(
    'interface.chatTemplate',
    'chat template',
    prev.interface.chatTemplate?.sha256,
    next.interface.chatTemplate?.sha256,
    'interface break: callers that format prompts themselves send the old template',
  );
  digest(
    'interface.tokenizer.configSha256',
    'tokenizer_config.json',
    prev.interface.tokenizer?.configSha256,
    next.interface.tokenizer?.configSha256,
    'interface break: special tokens or prompt handling change for callers that tokenize themselves',
  );
}

/**
 * What a derived version is made from. An adapter only runs on its base, so a base range that no longer
 * overlaps the old one, or moves to a new major of the base, or a different base model or relation, breaks
 * every deployment of it: major. A range that still overlaps is a deployment requirement change: minor.
 */
function baseRows(rows: BumpRow[], prev: VersionCard, next: VersionCard): void {
  const pb = prev.base;
  const nb = next.base;
  if (same(pb ?? null, nb ?? null)) return;
  const why = 'interface break: it now needs a different base, so deployments built on the old one break';
  if (!pb || !nb) {
    rows.push({
      field: 'base',
      change: pb ? `base ${pb.model} ${pb.range} removed` : `base ${nb!.model} ${nb!.range} (${nb!.relation}) added`,
      needs: 'major',
      why,
    });
    return;
  }
  if (pb.model !== nb.model) {
    rows.push({ field: 'base.model', change: `base ${pb.model} -> ${nb.model}`, needs: 'major', why });
    return;
  }
  if (pb.relation !== nb.relation)
    rows.push({ field: 'base.relation', change: `relation ${pb.relation} -> ${nb.relation}`, needs: 'major', why });
  if (pb.range !== nb.range) {
    const valid = semver.validRange(pb.range) !== null && semver.validRange(nb.range) !== null;
    const newMajor =
      !valid ||
      !semver.intersects(pb.range, nb.range) ||
      semver.minVersion(pb.range)?.major !== semver.minVersion(nb.range)?.major;
    rows.push({
      field: 'base.range',
      change: `base range ${pb.model} ${pb.range} -> ${nb.range}${newMajor ? ' (a new major of the base)' : ''}`,
      needs: newMajor ? 'major' : 'minor',
      why: newMajor ? why : 'deployment requirements changed: environments must now hold different base versions',
    });
  }
}

export function requiredBump(rows: BumpRow[]): Bump {
  return RANK_BUMP[Math.max(0, ...rows.map((r) => BUMP_RANK[r.needs]))]!;
}

/** major, minor or patch: which position of the core version went up. `none` when the cores are equal. */
export function actualBump(prev: string, next: string): Bump {
  const p = semver.parse(prev)!;
  const n = semver.parse(next)!;
  if (n.major !== p.major) return 'major';
  if (n.minor !== p.minor) return 'minor';
  if (n.patch !== p.patch) return 'patch';
  return 'none';
}

/**
 * Whether a bump says enough. For 0.y.z (both versions below 1.0.0) every place counts one higher,
 * as semver leaves 0.x open to anything and Cargo/npm caret ranges treat 0.y as the breaking position:
 * a breaking change needs at least a minor bump, anything else at least a patch bump.
 */
export function effectiveRank(prev: string, next: string): number {
  const b = BUMP_RANK[actualBump(prev, next)];
  const zero = semver.major(prev) === 0 && semver.major(next) === 0;
  return zero && b > 0 ? Math.min(3, b + 1) : b;
}

/** The rows as an aligned text table (for terminals, diagnostics and annotations). */
export function bumpTable(rows: BumpRow[]): string {
  const head = ['FIELD', 'CHANGE', 'NEEDS', 'WHY'];
  const body = rows.map((r) => [r.field, r.change, r.needs, r.why.split(':')[0]!]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  return [head, ...body]
    .map((r) => `  ${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')}`)
    .join('\n');
}
