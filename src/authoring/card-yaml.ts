// How cards are written as YAML, the same for a new card and an edited one.
import type { Document, Node as YamlNode } from 'yaml';
import type { Artifact } from '../registry/types.ts';

/** Options for Document.toString: no line folding, flow collections as `{a: 1}`. */
export const TO_STRING = { lineWidth: 0, flowCollectionPadding: false } as const;

/** One artifacts[] entry, in flow style; a pickle-based file says so (`pickle: true`). */
export function artifactNode(doc: Document, a: Artifact): YamlNode {
  return doc.createNode(
    { path: a.path, sha256: a.sha256, size: a.size, ...(a.pickle ? { pickle: true } : {}) },
    { flow: true },
  ) as YamlNode;
}
