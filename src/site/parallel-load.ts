// Loading a large registry is parsing thousands of YAML cards (the `yaml` parser is most of the time,
// see BENCHMARKS.md "validate"), and each file is loaded on its own. So for a big registry the files
// are split by model folder across worker threads, each runs the one loader (registry/load.ts) on its
// share, and the shares are merged: the same Registry and diagnostics as one loadRegistry call, minus
// the parsed YAML documents (`files`), which the site does not use.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { type Diagnostic, DiagnosticSink, compareDiagnostics } from '../registry/diagnostics.ts';
import { type Registry, emptyRegistry, loadRegistry } from '../registry/load.ts';
import type { RegistrySource, SourceEntry } from '../registry/source.ts';

/** Below this many files one thread is faster than starting workers (each compiles the schemas). */
export const PARALLEL_MIN_FILES = 1500;

export interface LoadShare {
  label: string;
  entries: SourceEntry[];
}

export interface LoadedShare {
  registry: Omit<Registry, 'files'>;
  diagnostics: Diagnostic[];
}

/** What a worker (or the main thread) does with one share. */
export function loadShare(share: LoadShare): LoadedShare {
  const sink = new DiagnosticSink();
  const { files: _files, ...registry } = loadRegistry({ label: share.label, entries: () => share.entries }, sink);
  return { registry, diagnostics: sink.sorted() };
}

function split(entries: SourceEntry[], parts: number): SourceEntry[][] {
  const groups = new Map<string, SourceEntry[]>();
  for (const e of entries) {
    const seg = e.path.split('/');
    const key = seg[0] === 'models' && seg.length > 2 ? `m:${seg[1]}` : 'rest';
    const g = groups.get(key);
    if (g) g.push(e);
    else groups.set(key, [e]);
  }
  const shares: SourceEntry[][] = Array.from({ length: parts }, () => []);
  for (const g of [...groups.values()].sort((a, b) => b.length - a.length)) {
    let least = shares[0]!;
    for (const s of shares) if (s.length < least.length) least = s;
    least.push(...g);
  }
  return shares.filter((s) => s.length > 0);
}

function inWorker(share: LoadShare): Promise<LoadedShare> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./load-worker.ts', import.meta.url), { workerData: share });
    w.once('message', (m: LoadedShare) => resolve(m));
    w.once('error', reject);
    w.once('exit', (code) => {
      if (code !== 0) reject(new Error(`registry load worker exited with ${code}`));
    });
  });
}

/** loadRegistry over `source`, on several threads when it is large. */
export async function loadRegistryFast(
  source: RegistrySource,
  options: { threads?: number; minFiles?: number } = {},
): Promise<{ registry: Registry; diagnostics: Diagnostic[] }> {
  const threads = options.threads ?? Math.min(availableParallelism(), 4);
  const entries = source.entries();
  if (threads < 2 || entries.length < (options.minFiles ?? PARALLEL_MIN_FILES)) {
    const one = loadShare({ label: source.label, entries });
    return { registry: { ...one.registry, files: new Map() }, diagnostics: one.diagnostics };
  }
  const loaded = await Promise.all(
    split(entries, threads).map((part) => inWorker({ label: source.label, entries: part })),
  );
  const registry = emptyRegistry(source.label);
  const diagnostics: Diagnostic[] = [];
  for (const l of loaded) {
    for (const [k, v] of l.registry.models) registry.models.set(k, v);
    for (const [k, v] of l.registry.environments) registry.environments.set(k, v);
    for (const b of l.registry.brokenEnvironments) registry.brokenEnvironments.add(b);
    registry.fileCount += l.registry.fileCount;
    diagnostics.push(...l.diagnostics);
  }
  // Same order as one loader's output: models and environments by path order of their files.
  registry.models = new Map([...registry.models].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  registry.environments = new Map([...registry.environments].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  diagnostics.sort(compareDiagnostics);
  return { registry, diagnostics };
}
