// Adapters on a device: an adapter's version folder holds a `base` symlink to the version folder of the
// base it runs on (models/<adapter>/versions/<v>/base -> ../../../<base>/versions/<bv>), so a loader finds
// both from one path. The link is relative (the device folder can move) and switched by rename. Merged,
// quantized and fine-tuned models carry their own weights and get no link.
import { randomBytes } from 'node:crypto';
import { readlink, rename, rm, symlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import semver from 'semver';
import type { Manifest } from '../manifest/manifest.ts';
import { fsyncDir } from '../lib/fs-atomic.ts';
import { VerificationError } from './errors.ts';
import { paths } from './local-store.ts';

/** The name of the link inside an adapter's version folder. */
export const BASE_LINK = 'base';

export interface AdapterBase {
  model: string;
  range: string;
}

/** The base an adapter version needs, from its manifest entry; undefined for anything but an adapter. */
export function adapterBaseOf(slice: Manifest, model: string, version: string): AdapterBase | undefined {
  const b = slice.models[model]?.versions[version]?.base;
  if (!b || b.relation !== 'adapter') return undefined;
  if (typeof b.model !== 'string' || /[\\/]/.test(b.model) || b.model.startsWith('.') || b.model === model)
    throw new VerificationError(
      `${model}@${version}: unsafe or self-referencing base "${String(b.model)}" in the manifest`,
    );
  if (typeof b.range !== 'string' || semver.validRange(b.range) === null)
    throw new VerificationError(
      `${model}@${version}: base range "${String(b.range)}" in the manifest is not a semver range`,
    );
  return { model: b.model, range: b.range };
}

/** The base version an adapter is paired with must satisfy its range; a signed manifest is checked anyway. */
export function checkBaseVersion(model: string, version: string, base: AdapterBase, baseVersion: string): void {
  if (!semver.satisfies(baseVersion, base.range))
    throw new VerificationError(
      `${model}@${version} runs on ${base.model} ${base.range}, but this device runs ${base.model} ${baseVersion}; not activating it`,
    );
}

/** An artifact named like the link would be shadowed by it (or shadow it): refused before any download. */
export function checkNoLinkCollision(model: string, version: string, files: { path: string }[]): void {
  const hit = files.find((f) => f.path === BASE_LINK || f.path.startsWith(`${BASE_LINK}/`));
  if (hit)
    throw new VerificationError(
      `${model}@${version} is an adapter, so its folder gets a "${BASE_LINK}" link to its base, but it has a file ${hit.path}`,
    );
}

const linkTarget = (base: string, baseVersion: string) => posix.join('..', '..', '..', base, 'versions', baseVersion);

/**
 * Points versions/<version>/base at the base's version folder. Returns whether the link changed (false when
 * it already pointed there). A temp link renamed over the old one: readers see the old or the new base.
 */
export async function linkBase(
  dir: string,
  model: string,
  version: string,
  base: string,
  baseVersion: string,
): Promise<boolean> {
  const folder = paths(dir).version(model, version);
  const target = linkTarget(base, baseVersion);
  if ((await readlink(join(folder, BASE_LINK)).catch(() => undefined)) === target) return false;
  const tmp = join(folder, `.base-${randomBytes(4).toString('hex')}`);
  await symlink(target, tmp);
  try {
    await rename(tmp, join(folder, BASE_LINK));
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  await fsyncDir(folder);
  return true;
}

/** The base version folder an adapter version's link names, as {model, version}; undefined without a link. */
export async function linkedBase(
  dir: string,
  model: string,
  version: string,
): Promise<{ model: string; version: string } | undefined> {
  const target = await readlink(join(paths(dir).version(model, version), BASE_LINK)).catch(() => undefined);
  const m = target === undefined ? null : /^\.\.\/\.\.\/\.\.\/([^/]+)\/versions\/([^/]+)$/.exec(target);
  return m ? { model: m[1]!, version: m[2]! } : undefined;
}

/**
 * Every base version some version folder in `kept` links to, as model -> versions: what GC must keep so
 * an adapter (the active one, or one kept for rollback) never points at a deleted base.
 */
export async function pinnedBases(dir: string, kept: Map<string, Set<string>>): Promise<Map<string, Set<string>>> {
  const pins = new Map<string, Set<string>>();
  for (const [model, versions] of kept) {
    for (const v of versions) {
      const b = await linkedBase(dir, model, v);
      if (b) (pins.get(b.model) ?? pins.set(b.model, new Set()).get(b.model)!).add(b.version);
    }
  }
  return pins;
}
