// verifyArtifacts: does the store hold exactly the bytes a model card names?
import { createHash } from 'node:crypto';
import { blobKey } from './keys.ts';
import type { BlobStore } from './types.ts';

export interface Artifact {
  path: string;
  sha256: string;
  size: number;
}

export type ArtifactStatus = 'ok' | 'missing' | 'wrong-size' | 'wrong-sha256-metadata' | 'wrong-bytes';

export interface ArtifactCheck extends Artifact {
  blobKey: string;
  status: ArtifactStatus;
  /** What was found, for a person: e.g. "store has 10 bytes, expected 12". Absent when ok. */
  detail?: string;
}

export interface VerifyOptions {
  /** Download every blob and hash it (slow, proves the bytes). Otherwise HEAD only: size + sha256 metadata. */
  rehash?: boolean;
}

export async function verifyArtifacts(
  store: BlobStore,
  artifacts: readonly Artifact[],
  options: VerifyOptions = {},
): Promise<ArtifactCheck[]> {
  const out: ArtifactCheck[] = [];
  for (const a of artifacts) {
    const key = blobKey(a.sha256);
    const check = (status: ArtifactStatus, detail?: string): ArtifactCheck => ({
      ...a,
      blobKey: key,
      status,
      ...(detail === undefined ? {} : { detail }),
    });
    const h = await store.head(key);
    if (!h) {
      out.push(check('missing', `${store.url} has no "${key}"`));
    } else if (h.size !== a.size) {
      out.push(check('wrong-size', `store has ${h.size} bytes, expected ${a.size}`));
    } else if (h.sha256 !== a.sha256) {
      // Every blob this toolkit writes records its sha256; one without it was written by something else.
      out.push(
        check(
          'wrong-sha256-metadata',
          h.sha256 ? `store metadata says sha256 ${h.sha256}` : 'store object has no sha256 metadata',
        ),
      );
    } else if (options.rehash) {
      const hash = createHash('sha256');
      let n = 0;
      for await (const chunk of await store.get(key)) {
        hash.update(chunk as Buffer);
        n += (chunk as Buffer).length;
      }
      const actual = hash.digest('hex');
      out.push(
        actual === a.sha256 && n === a.size
          ? check('ok')
          : check('wrong-bytes', `store bytes hash to ${actual} (${n} bytes)`),
      );
    } else {
      out.push(check('ok'));
    }
  }
  return out;
}
