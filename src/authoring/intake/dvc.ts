// DVC-tracked data: `<name>.dvc` files (outs) and `dvc.lock` (each stage's deps) name datasets by their
// content digest, which is what lineage.datasets records. DVC digests are md5 (a folder's is `<md5>.dir`,
// the digest of its listing), so the card carries them as `md5`; a sha256 is never invented.
import { parseDocument } from 'yaml';
import { UserError } from '../../lib/errors.ts';

export interface DvcDataset {
  name: string;
  md5: string;
  /** Where the data lives in the repository DVC tracks it in (its path). */
  uri: string;
}

const MD5 = /^[0-9a-f]{32}(?:\.dir)?$/;
/** Code and config a stage depends on is not training data. */
const CODE = /\.(?:py|sh|ipynb|r|js|ts|toml|cfg|ini|yaml|yml|json|txt|md|lock)$/i;

function yaml(text: string, file: string): Record<string, unknown> {
  // Every scalar as its text: an unquoted md5 such as 1234e5... would otherwise be read as a number.
  const doc = parseDocument(text, { version: '1.2', uniqueKeys: true, schema: 'failsafe' });
  if (doc.errors.length)
    throw new UserError(`${file}: not valid YAML: ${doc.errors[0]!.message.split('\n')[0]}; fix it or remove it`);
  const v = doc.toJSON() as unknown;
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new UserError(`${file}: not a DVC file (no mapping)`);
  return v as Record<string, unknown>;
}

const nameOf = (path: string) =>
  (path.replace(/\/+$/, '').split('/').pop() ?? path).replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^[.-]+/, '') || 'data';

function entry(o: unknown, file: string, where: string): DvcDataset | undefined {
  if (typeof o !== 'object' || o === null) return undefined;
  const r = o as Record<string, unknown>;
  const path = r.path;
  const md5 = r.md5 ?? (r.hash === 'md5' ? r.md5 : undefined);
  if (typeof path !== 'string') throw new UserError(`${file}: ${where} has no path`);
  if (md5 === undefined) throw new UserError(`${file}: ${where} (${path}) has no md5 digest; run dvc commit`);
  if (typeof md5 !== 'string' || !MD5.test(md5))
    throw new UserError(`${file}: ${where} (${path}) md5 ${JSON.stringify(md5)} is not a DVC md5 digest`);
  return { name: nameOf(path), md5, uri: path };
}

/** Datasets from one `.dvc` file (its outs). */
export function readDvcFile(text: string, file: string): DvcDataset[] {
  const outs = yaml(text, file).outs;
  if (!Array.isArray(outs)) throw new UserError(`${file}: no outs list; not a DVC-tracked file`);
  return outs.map((o, i) => entry(o, file, `outs[${i}]`)).filter((d): d is DvcDataset => d !== undefined);
}

/** Datasets from dvc.lock: every stage's deps that are data (not code or config), and not another stage's output. */
export function readDvcLock(text: string, file = 'dvc.lock'): DvcDataset[] {
  const stages = yaml(text, file).stages;
  if (typeof stages !== 'object' || stages === null) throw new UserError(`${file}: no stages mapping`);
  const produced = new Set<string>();
  const deps: { o: unknown; where: string }[] = [];
  for (const [name, s] of Object.entries(stages as Record<string, unknown>)) {
    const st = (s ?? {}) as Record<string, unknown>;
    for (const o of Array.isArray(st.outs) ? st.outs : [])
      if (typeof (o as { path?: unknown })?.path === 'string') produced.add((o as { path: string }).path);
    (Array.isArray(st.deps) ? st.deps : []).forEach((o, i) => deps.push({ o, where: `stages.${name}.deps[${i}]` }));
  }
  const out: DvcDataset[] = [];
  for (const { o, where } of deps) {
    const path = (o as { path?: unknown })?.path;
    if (typeof path !== 'string' || produced.has(path) || CODE.test(path)) continue;
    const d = entry(o, file, where);
    if (d && !out.some((x) => x.uri === d.uri)) out.push(d);
  }
  return out;
}
