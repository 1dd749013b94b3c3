// Which files of a model folder become artifacts, and which cannot be trusted or loaded. Refused: a
// symlink that leads outside the folder (or outside the hub cache repo a snapshot belongs to), anything
// that is not a regular file, a git-LFS pointer under any name, and pickle-based weights unless allowed.
// Skipped: the default ignore list and the folder's .modelignore (ignore.ts).
import { lstat, open, readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { UserError } from '../../lib/errors.ts';
import { printable } from '../../registry/diagnostics.ts';
import { isLfsPointer, LFS_POINTER_MAX_BYTES, readLfsPointer } from '../../formats/lfs.ts';
import { formatBytes } from '../../lib/format.ts';
import { ignoreMatcher, MODELIGNORE } from './ignore.ts';
import { isPickle } from './pickle.ts';
import { ARTIFACT_PATH } from '../card-writer.ts';

export interface ScannedFile {
  /** '/'-separated path inside the folder. */
  path: string;
  size: number;
  /** The file's real location (a snapshot's symlink resolved). */
  real: string;
  /** Pickle-based (only present with allowPickle). */
  pickle?: boolean;
}

export interface ScanOptions {
  /** Symlinks may lead anywhere inside this folder (a hub cache repo), not only inside the model folder. */
  linkRoot?: string;
  allowPickle?: boolean;
}

export interface ScanResult {
  files: ScannedFile[];
  /** Paths skipped by the ignore rules (a folder once, with a trailing /), with the rule. */
  ignored: { path: string; rule: string }[];
}

const HEAD_BYTES = Math.max(LFS_POINTER_MAX_BYTES, 64);

async function head(file: string, size: number): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const b = Buffer.alloc(Math.min(size, HEAD_BYTES));
    const { bytesRead } = await fh.read(b, 0, b.length, 0);
    return b.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

export async function scanFolder(dir: string, options: ScanOptions = {}): Promise<ScanResult> {
  let realRoot: string;
  try {
    realRoot = await realpath(dir);
    if (!(await stat(realRoot)).isDirectory()) throw new UserError(`${dir} is not a folder`);
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`model folder ${dir} does not exist`);
  }
  const linkRoot = options.linkRoot ? await realpath(options.linkRoot) : realRoot;
  const ignoreText = await readFile(join(realRoot, MODELIGNORE), 'utf8').catch(() => undefined);
  const matcher = ignoreMatcher(ignoreText, `${dir.replace(/\/+$/, '')}/${MODELIGNORE}`);
  const problems: string[] = [];
  const files: ScannedFile[] = [];
  const ignored: ScanResult['ignored'] = [];
  const inside = (p: string) => p === linkRoot || p.startsWith(linkRoot + sep);
  const rel = (p: string) => relative(realRoot, p).split(sep).join('/');
  const addFile = (path: string, size: number, real: string) => {
    if (ARTIFACT_PATH.test(path) && path.length <= 512) files.push({ path, size, real });
    else
      problems.push(
        `${printable(path)}: not usable as an artifact path (letters, digits, _ . + @ = - and / only, at most 512 characters); rename it or list it in ${MODELIGNORE}`,
      );
  };
  const walk = async (abs: string, depth: number): Promise<void> => {
    if (depth > 32) {
      problems.push(`${printable(rel(abs))}: folders nest too deep`);
      return;
    }
    for (const ent of (await readdir(abs, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(abs, ent.name);
      const path = rel(p);
      const st = await lstat(p);
      const isDir = st.isDirectory() || (st.isSymbolicLink() && (await stat(p).catch(() => undefined))?.isDirectory());
      const rule = matcher.reason(path, !!isDir);
      if (rule !== undefined) {
        ignored.push({ path: isDir ? `${path}/` : path, rule });
        continue;
      }
      if (st.isDirectory()) await walk(p, depth + 1);
      else if (st.isFile()) addFile(path, st.size, p);
      else if (st.isSymbolicLink()) {
        const target = await realpath(p).catch(() => undefined);
        if (target === undefined) problems.push(`${printable(path)}: symlink to nothing (broken link)`);
        else if (!inside(target))
          problems.push(
            `${printable(path)}: symlink points outside the ${options.linkRoot ? 'hub cache repo folder' : 'model folder'} (to ${target}); copy the file in instead`,
          );
        else {
          const t = await stat(target);
          if (t.isFile()) addFile(path, t.size, target);
          else
            problems.push(
              `${printable(path)}: symlink to ${t.isDirectory() ? 'a folder (not followed)' : 'something that is not a regular file'}`,
            );
        }
      } else {
        problems.push(
          `${printable(path)}: not a regular file (${st.isFIFO() ? 'a FIFO' : st.isSocket() ? 'a socket' : 'a device'})`,
        );
      }
    }
  };
  await walk(realRoot, 0);
  // Sorted by the whole path, as the store's folder push lists them ("a.txt" before "a/b").
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  if (problems.length)
    throw new UserError(`${dir} cannot be pushed as it is:\n${problems.map((p) => `  ${p}`).join('\n')}`);

  // What the bytes say, whatever the name: a pointer instead of weights, a pickle.
  const lfs: string[] = [];
  const pickles: string[] = [];
  for (const f of files) {
    const h = await head(f.real, f.size);
    if (isLfsPointer(h)) {
      const p = readLfsPointer(h);
      lfs.push(
        `${printable(f.path)}: a git-LFS pointer (${f.size} bytes${p.size !== undefined ? `, for ${formatBytes(p.size)}` : ''}), not the file itself`,
      );
    } else if (isPickle(f.path, h)) {
      if (options.allowPickle) f.pickle = true;
      else pickles.push(printable(f.path));
    }
  }
  if (lfs.length)
    throw new UserError(
      `${dir} holds git-LFS pointers where the files should be:\n${lfs.map((l) => `  ${l}`).join('\n')}\nRun \`git lfs pull\` in the repository the folder came from (or download the files again), then push.`,
    );
  if (pickles.length)
    throw new UserError(
      `${dir} holds pickle-based files, and loading a pickle runs code chosen by whoever wrote it:\n${pickles.map((p) => `  ${p}`).join('\n')}\nConvert the weights to safetensors (e.g. safetensors.torch.save_file), list the files in ${MODELIGNORE}, or pass --allow-pickle if you trust their origin (the card marks them and validate warns).`,
    );
  if (files.length === 0) throw new UserError(`model folder ${dir} has no files to push`);
  return { files, ignored };
}
