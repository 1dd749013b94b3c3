// The order of environments, defined once. Each environment may `require` the one before it
// (dev <- staging <- production); the end of a chain, the environment nothing requires, is a final
// stage: it faces users, takes no prereleases and (with an evidence store) needs benchmark evidence.
// Every rule about "production" asks this module, so a registry whose last stage is called `prod`,
// `live` or `edge` gets the same gates.
import { UserError } from '../lib/errors.ts';

interface Staged {
  requires?: string | undefined;
}

/** Environments that no other environment requires, sorted by name. */
export function finalStages(environments: ReadonlyMap<string, Staged>): string[] {
  const required = new Set<string>();
  for (const e of environments.values()) if (e.requires !== undefined) required.add(e.requires);
  return [...environments.keys()].filter((name) => !required.has(name)).sort();
}

export function isFinalStage(environments: ReadonlyMap<string, Staged>, name: string): boolean {
  for (const e of environments.values()) if (e.requires === name) return false;
  return environments.has(name);
}

/**
 * The final stages an evidence gate applies to. A registry without one (no environments, or every
 * environment required by another: a cycle) cannot say what faces users, so a gate asked for on it
 * refuses instead of silently checking nothing.
 */
export function gatedStages(environments: ReadonlyMap<string, Staged>, where: string): string[] {
  const finals = finalStages(environments);
  if (finals.length === 0) {
    const why =
      environments.size === 0
        ? 'it has no environments'
        : `every environment is required by another (${[...environments.keys()].sort().join(', ')})`;
    throw new UserError(
      `${where}: no final stage to gate (${why}); the final stage is the environment no other environment requires`,
    );
  }
  return finals;
}
