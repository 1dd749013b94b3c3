// Where a version's files come from. The gateway only needs a folder holding them: StoreVersionSource
// (store-source.ts) fetches them through the edge-sync engine; FolderVersionSource reads local folders.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../lib/errors.ts';
import type { ManifestVersion } from '../manifest/manifest.ts';
import { GATEWAY_DEFAULTS } from './defaults.ts';

export interface VersionSource {
  /** A local folder holding the version's files, verified against `entry`. */
  materialize(model: string, version: string, entry: ManifestVersion): Promise<string>;
  /** Optional: may free every version not listed (the gateway lists what it serves and what it just replaced). */
  retain?(versions: { model: string; version: string; entry: ManifestVersion }[]): Promise<void>;
}

/** `<root>/<model>/<version>/`. By default every file's size and sha256 are checked against the
 * manifest entry, so a stale or tampered folder is never loaded. A folder that does not match is a
 * UserError: a person fixes the folder (or the manifest), and the gateway reports it like any version
 * that fails to load (the manifest is refused, or a canary is rolled back). */
export class FolderVersionSource implements VersionSource {
  readonly root: string;
  readonly verify: boolean;
  constructor(root: string, options: { verify?: boolean } = {}) {
    this.root = root;
    this.verify = options.verify ?? GATEWAY_DEFAULTS.verifyFolders;
  }

  async materialize(model: string, version: string, entry: ManifestVersion): Promise<string> {
    const dir = join(this.root, model, version);
    if (!this.verify) return dir;
    for (const f of entry.files) {
      const p = join(dir, f.path);
      const size = await stat(p).then(
        (s) => s.size,
        (e: unknown) => {
          throw new UserError(`${model}@${version}: ${p} is missing`, { cause: e });
        },
      );
      if (size !== f.size)
        throw new UserError(`${model}@${version}: ${f.path} is ${size} bytes, the manifest says ${f.size}`);
      const hash = createHash('sha256');
      for await (const chunk of createReadStream(p)) hash.update(chunk as Buffer);
      const hex = hash.digest('hex');
      if (hex !== f.sha256)
        throw new UserError(`${model}@${version}: ${f.path} has sha256 ${hex}, the manifest says ${f.sha256}`);
    }
    return dir;
  }
}
