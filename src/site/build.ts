// `model-gitops site`: the registry as a static site. Everything is collected first (registry at a
// commit, git history, the store's evidence), then every page is written into a temporary sibling of
// the output folder, which replaces the output by rename only when the whole site is there: a failed
// build leaves the previous site as it was and no half-written one.
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { UserError } from '../lib/errors.ts';
import { fsyncDir } from '../lib/fs-atomic.ts';
import type { BlobStore } from '../store/types.ts';
import { collectSiteData } from './data.ts';
import { fileOf, sitePaths } from './html.ts';
import { environmentPage } from './pages/environment.ts';
import { indexPage } from './pages/index.ts';
import { modelPage } from './pages/model.ts';
import { versionPage } from './pages/version.ts';

/** Written into every site: an output folder holding it may be replaced, any other non-empty one is refused. */
export const SITE_MARKER = '.model-gitops-site';
const ASSETS = [sitePaths.css, sitePaths.js, sitePaths.icon];

export interface BuildProgress {
  phase: 'collect' | 'pages' | 'swap';
  done: number;
  total: number;
}

export interface BuildOptions {
  repo: string;
  out: string;
  ref?: string;
  store?: BlobStore;
  repoUrl?: string;
  env?: NodeJS.ProcessEnv;
  /** Called as work advances (the CLI draws it on stderr); an exception from it aborts the build. */
  onProgress?: (p: BuildProgress) => void;
}

export interface BuildResult {
  out: string;
  commit: string;
  pages: { index: number; model: number; version: number; environment: number; total: number };
  files: number;
  bytes: number;
  ms: number;
  /** Wall-clock milliseconds of each phase, and CPU milliseconds of the whole build (all threads). */
  phases: { collect: number; pages: number; swap: number };
  cpuMs: number;
  problems: number;
  store?: string;
}

function checkOut(out: string): void {
  if (!existsSync(out)) return;
  if (!statSync(out).isDirectory()) throw new UserError(`--out ${out} exists and is not a folder`);
  const entries = readdirSync(out);
  if (entries.length > 0 && !entries.includes(SITE_MARKER))
    throw new UserError(
      `--out ${out} is a non-empty folder that no site build made (it has no ${SITE_MARKER}); refusing to replace it: choose an empty or new folder`,
    );
}

export async function buildSite(options: BuildOptions): Promise<BuildResult> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  const out = resolve(options.out);
  const repo = resolve(options.repo);
  if (out === repo || repo.startsWith(`${out}/`))
    throw new UserError(`--out ${out} would replace the repository itself; choose a folder outside it or below it`);
  checkOut(out);
  const progress = options.onProgress ?? (() => {});
  progress({ phase: 'collect', done: 0, total: 1 });
  const data = await collectSiteData({
    repo,
    ...(options.ref ? { ref: options.ref } : {}),
    ...(options.store ? { store: options.store } : {}),
    ...(options.repoUrl ? { repoUrl: options.repoUrl } : {}),
    ...(options.env ? { env: options.env } : {}),
  });
  progress({ phase: 'collect', done: 1, total: 1 });
  const collected = performance.now();

  mkdirSync(dirname(out), { recursive: true });
  const tmp = join(dirname(out), `.${basename(out)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  mkdirSync(tmp);
  let bytes = 0;
  let files = 0;
  const made = new Set<string>();
  const write = (sitePath: string, content: string | Buffer) => {
    const file = join(tmp, fileOf(sitePath));
    const dir = dirname(file);
    if (!made.has(dir)) {
      mkdirSync(dir, { recursive: true });
      made.add(dir);
    }
    writeFileSync(file, content);
    bytes += typeof content === 'string' ? Buffer.byteLength(content) : content.length;
    files++;
  };

  const counts = { index: 0, model: 0, version: 0, environment: 0, total: 0 };
  try {
    for (const a of ASSETS) write(a, readFileSync(new URL(`./${a}`, import.meta.url)));
    write(SITE_MARKER, `${data.commit}\n`);
    const models = [...data.registry.models.values()];
    let versions = 0;
    for (const m of models) versions += m.versions.size;
    const total = 1 + models.length + versions + data.environments.length;
    const step = Math.max(1, Math.floor(total / 100));
    const done = () => {
      counts.total++;
      if (counts.total % step === 0 || counts.total === total) progress({ phase: 'pages', done: counts.total, total });
    };
    write(sitePaths.index, indexPage(data));
    counts.index++;
    done();
    for (const env of data.environments) {
      write(sitePaths.environment(env.name), environmentPage(data, env));
      counts.environment++;
      done();
    }
    for (const m of models) {
      write(sitePaths.model(m.name), modelPage(data, m));
      counts.model++;
      done();
      for (const v of data.versionOrder.get(m.name) ?? []) {
        write(sitePaths.version(m.name, v), versionPage(data, m, v));
        counts.version++;
        done();
      }
    }
    progress({ phase: 'swap', done: 0, total: 1 });
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  const written = performance.now();
  // Swap: the old site steps aside, the new one takes its name, then the old one goes.
  const old = existsSync(out) ? `${tmp}.old` : undefined;
  try {
    if (old) renameSync(out, old);
    try {
      renameSync(tmp, out);
    } catch (e) {
      if (old) renameSync(old, out);
      throw e;
    }
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  await fsyncDir(dirname(out));
  if (old) rmSync(old, { recursive: true, force: true });
  progress({ phase: 'swap', done: 1, total: 1 });
  const ended = performance.now();
  const usage = process.cpuUsage(cpu);
  return {
    out,
    commit: data.commit,
    pages: counts,
    files,
    bytes,
    ms: Math.round(ended - started),
    phases: {
      collect: Math.round(collected - started),
      pages: Math.round(written - collected),
      swap: Math.round(ended - written),
    },
    cpuMs: Math.round((usage.user + usage.system) / 1000),
    problems: data.problems.length,
    ...(data.store ? { store: data.store.url } : {}),
  };
}
