// Getting the bytes of a version onto the benchmark machine. The sync engine (store -> folder) lives
// elsewhere; the benchmark only needs `materialize(model, version, card) -> folder`. Whatever the
// source, the folder handed to the harness holds only files the card lists, each copied and checked
// against the card's sha256 and size first: unverified bytes are never benchmarked.
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, mkdtempSync, openSync, readSync, closeSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { UserError } from '../lib/errors.ts';
import type { VersionCard } from '../registry/types.ts';

export interface Materializer {
  /** Returns a folder holding exactly the card's artifacts, verified. */
  materialize(model: string, version: string, card: VersionCard): Promise<string>;
}

export interface FolderMaterializerOptions {
  /** Where verified copies go (default: a new temporary folder). */
  stagingRoot?: string;
  /** For messages: where the card lives, e.g. models/x/versions/1.0.0.yaml. */
  cardFile?: (model: string, version: string) => string;
}

/**
 * Reads `<root>/<model>/<version>/<artifact path>` (a mounted store cache, a synced folder, a CI
 * artifact). Copies each file to a private staging folder while hashing it, so what was verified is
 * exactly what the harness reads, even if the source changes afterwards.
 */
export class FolderMaterializer implements Materializer {
  readonly root: string;
  private readonly options: FolderMaterializerOptions;
  constructor(root: string, options: FolderMaterializerOptions = {}) {
    this.root = root;
    this.options = options;
  }

  async materialize(model: string, version: string, card: VersionCard): Promise<string> {
    const source = join(this.root, model, version);
    const staging = this.options.stagingRoot ?? mkdtempSync(join(tmpdir(), 'mg-bench-'));
    const target = join(staging, model, version);
    const cardFile = this.options.cardFile?.(model, version) ?? `models/${model}/versions/${version}.yaml`;
    const problems: string[] = [];
    card.artifacts.forEach((a, i) => {
      const from = join(source, a.path);
      const where = `${cardFile} artifacts[${i}]`;
      let st;
      try {
        st = lstatSync(from);
      } catch {
        problems.push(`${from}: missing (${where} lists ${a.path})`);
        return;
      }
      if (!st.isFile()) {
        problems.push(`${from}: not a regular file (symlinks and folders are refused)`);
        return;
      }
      if (st.size !== a.size) {
        problems.push(`${from}: size ${st.size} bytes, but ${where}.size says ${a.size}`);
        return;
      }
      const to = join(target, a.path);
      mkdirSync(dirname(to), { recursive: true });
      const got = copyHashing(from, to, a.size);
      if (got !== a.sha256) problems.push(`${from}: sha256 ${got}, but ${where}.sha256 says ${a.sha256}`);
    });
    if (problems.length) {
      throw new UserError(
        `refusing to benchmark ${model}@${version}: its files do not match the card\n  ${problems.join('\n  ')}`,
      );
    }
    return target;
  }
}

/** Copies at most `limit + 1` bytes (a file that grows while read is caught) and returns their sha256. */
function copyHashing(from: string, to: string, limit: number): string {
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(1 << 20);
  const fin = openSync(from, 'r');
  const fout = openSync(to, 'wx', 0o444);
  try {
    let total = 0;
    for (;;) {
      const n = readSync(fin, buf, 0, buf.length, null);
      if (n === 0) break;
      total += n;
      if (total > limit) throw new UserError(`${from}: grew past ${limit} bytes while being read`);
      h.update(buf.subarray(0, n));
      writeSync(fout, buf, 0, n);
    }
  } finally {
    closeSync(fin);
    closeSync(fout);
  }
  return h.digest('hex');
}
