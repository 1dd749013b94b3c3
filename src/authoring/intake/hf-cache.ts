// A Hugging Face hub cache snapshot: `<cache>/models--<org>--<name>/snapshots/<revision>/`, whose files are
// symlinks into `../../blobs/<etag>`. Pushing one follows those links (only inside the repo's cache folder),
// and the card's lineage records where it came from: {hub: huggingface, repo: org/name, revision}.
// The repo folder itself (`models--org--name`) is accepted too: its refs/main names the snapshot.
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { UserError } from '../../lib/errors.ts';

export interface HubSource {
  hub: 'huggingface';
  /** org/name (or name for repos without an org). */
  repo: string;
  revision: string;
}

export interface HfCacheSnapshot {
  /** The snapshot folder to push. */
  dir: string;
  /** `models--org--name`: symlinks may lead anywhere inside it (blobs/). */
  root: string;
  source: HubSource;
  /** The ref that names this revision (e.g. main), when one does. */
  ref?: string;
}

const REPO_DIR = /^models--(.+)$/;

function repoName(folder: string): string | undefined {
  const m = REPO_DIR.exec(folder);
  if (!m) return undefined;
  // The hub cache joins org and name with "--"; a name can hold single hyphens, not "--".
  const parts = m[1]!.split('--');
  return parts.length <= 2 && parts.every((p) => p !== '') ? parts.join('/') : undefined;
}

function refsNaming(root: string, revision: string): string | undefined {
  for (const ref of ['main']) {
    const f = join(root, 'refs', ref);
    if (existsSync(f) && readFileSync(f, 'utf8').trim() === revision) return ref;
  }
  return undefined;
}

/** The snapshot `dir` is, or undefined when it is not in a hub cache. */
export function detectHfCacheSnapshot(dir: string): HfCacheSnapshot | undefined {
  let real: string;
  try {
    real = realpathSync(dir);
  } catch {
    return undefined;
  }
  // The repo folder: follow refs/main.
  const asRepo = repoName(basename(real));
  if (asRepo && existsSync(join(real, 'snapshots'))) {
    const refFile = join(real, 'refs', 'main');
    if (!existsSync(refFile))
      throw new UserError(
        `${dir} is a Hugging Face cache folder without refs/main; give the snapshot folder instead (${join(dir, 'snapshots', '<revision>')})`,
      );
    const revision = readFileSync(refFile, 'utf8').trim();
    const snap = join(real, 'snapshots', revision);
    if (!/^[0-9a-f]{40}$/.test(revision) || !existsSync(snap) || !statSync(snap).isDirectory())
      throw new UserError(
        `${refFile} names revision "${revision.slice(0, 64)}", which has no folder under snapshots/; download it again (huggingface-cli download ${asRepo})`,
      );
    return { dir: snap, root: real, source: { hub: 'huggingface', repo: asRepo, revision }, ref: 'main' };
  }
  const snapshots = dirname(real);
  const root = dirname(snapshots);
  const repo = repoName(basename(root));
  if (basename(snapshots) !== 'snapshots' || !repo) return undefined;
  const revision = basename(real);
  const ref = refsNaming(root, revision);
  return { dir: real, root, source: { hub: 'huggingface', repo, revision }, ...(ref ? { ref } : {}) };
}
