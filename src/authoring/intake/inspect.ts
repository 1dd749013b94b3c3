// Read what a scanned model folder says about itself, before anything is uploaded: the safetensors
// headers (and whether a sharded checkpoint is complete), GGUF headers, config.json, the README front
// matter, a PEFT adapter config, Trainer output, DVC entries and the tokenizer/chat template digests.
// Refusals (an incomplete checkpoint, an unreadable header) happen here, so nothing is sent for them.
import { readdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../lib/errors.ts';
import { sha256Hex } from '../../lib/hash.ts';
import { readSafetensorsHeader, type TensorInfo } from '../../formats/safetensors.ts';
import { ggufFacts, ggufString, isGguf, readGgufHeader, type GgufFacts } from '../../formats/gguf.ts';
import type { DerivedFacts } from '../card-writer.ts';
import type { HubSource } from './hf-cache.ts';
import { readHfReadme, type HfReadmeFacts } from './hf-readme.ts';
import { readAdapterConfig, peftHyperparameters, type PeftFacts } from './peft.ts';
import { readTrainerOutput, TRAINER_FILES } from './trainer.ts';
import { readDvcFile, readDvcLock, type DvcDataset } from './dvc.ts';
import { checkShardIndex, SHARD_INDEX } from './shards.ts';
import { deriveInterface } from './interface.ts';
import type { ScannedFile } from './scan.ts';

const MAX_META_BYTES = 4 * 1024 * 1024;

export interface FolderFacts {
  /** Tensors of every safetensors file, by path. */
  tensors: Map<string, TensorInfo[]>;
  gguf: GgufFacts[];
  /** config.json (top level, or a sentence-transformers Transformer module's). */
  config?: unknown;
  readme?: HfReadmeFacts;
  peft?: PeftFacts;
  derived: DerivedFacts;
  notes: string[];
}

export interface InspectOptions {
  /** A training-code checkout: its top-level *.dvc files and dvc.lock are read too. */
  codeDir?: string;
  source?: HubSource;
}

async function smallText(f: ScannedFile, notes: string[]): Promise<string | undefined> {
  if (f.size > MAX_META_BYTES) {
    notes.push(`${f.path} is ${f.size} bytes; not read`);
    return undefined;
  }
  return readFile(f.real, 'utf8');
}

function json(text: string, path: string, notes: string[]): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    notes.push(`${path} is not valid JSON (${(e as Error).message}); not read`);
    return undefined;
  }
}

/** The chat template text: tokenizer_config.json's chat_template (a string or a list of named ones), or a file. */
function chatTemplate(texts: Map<string, string>, gguf: { template?: string }): DerivedFacts['chatTemplate'] {
  const digest = (t: string, source: string) => ({ sha256: sha256Hex(t), source });
  const jinja = texts.get('chat_template.jinja');
  if (jinja !== undefined) return digest(jinja, 'chat_template.jinja');
  const fromJson = (v: unknown) =>
    typeof v === 'string' ? v : Array.isArray(v) && v.length ? JSON.stringify(v) : undefined;
  const ct = texts.get('chat_template.json');
  if (ct !== undefined) {
    const t = fromJson((json(ct, 'chat_template.json', []) as { chat_template?: unknown } | undefined)?.chat_template);
    if (t !== undefined) return digest(t, 'chat_template.json');
  }
  const tc = texts.get('tokenizer_config.json');
  if (tc !== undefined) {
    const t = fromJson(
      (json(tc, 'tokenizer_config.json', []) as { chat_template?: unknown } | undefined)?.chat_template,
    );
    if (t !== undefined) return digest(t, 'tokenizer_config.json');
  }
  if (gguf.template !== undefined) return digest(gguf.template, 'gguf:tokenizer.chat_template');
  return undefined;
}

async function dvcDatasets(folder: Map<string, ScannedFile>, codeDir: string | undefined): Promise<DvcDataset[]> {
  const out: DvcDataset[] = [];
  const add = (list: DvcDataset[]) => {
    for (const d of list) if (!out.some((x) => x.uri === d.uri && x.md5 === d.md5)) out.push(d);
  };
  for (const f of folder.values()) {
    if (f.path.endsWith('.dvc')) add(readDvcFile(await readFile(f.real, 'utf8'), f.path));
    else if (f.path === 'dvc.lock') add(readDvcLock(await readFile(f.real, 'utf8'), f.path));
  }
  if (codeDir && existsSync(codeDir)) {
    for (const name of (await readdir(codeDir)).sort()) {
      const p = join(codeDir, name);
      if (name.endsWith('.dvc')) add(readDvcFile(await readFile(p, 'utf8'), p));
      else if (name === 'dvc.lock') add(readDvcLock(await readFile(p, 'utf8'), p));
    }
  }
  return out;
}

export async function inspectFolder(files: readonly ScannedFile[], options: InspectOptions = {}): Promise<FolderFacts> {
  const notes: string[] = [];
  const byPath = new Map(files.map((f) => [f.path, f]));
  const tensors = new Map<string, TensorInfo[]>();
  for (const f of files)
    if (f.path.toLowerCase().endsWith('.safetensors')) {
      try {
        tensors.set(f.path, (await readSafetensorsHeader(f.real)).tensors);
      } catch (e) {
        if (e instanceof UserError)
          throw new UserError(
            `${f.path}: not a readable safetensors file: ${e.message.replace(`${f.real}: `, '')}\nIs the download complete? Download it again, or list it in .modelignore.`,
          );
        throw e;
      }
    }
  // A sharded checkpoint is complete, or nothing is pushed.
  const shardProblems: string[] = [];
  for (const f of files)
    if (SHARD_INDEX.test(f.path)) {
      const text = await smallText(f, notes);
      if (text !== undefined) shardProblems.push(...checkShardIndex({ path: f.path, text }, tensors));
    }
  if (shardProblems.length)
    throw new UserError(
      `the checkpoint is incomplete or inconsistent; nothing was uploaded:\n${shardProblems.map((p) => `  ${p}`).join('\n')}`,
    );

  const gguf: GgufFacts[] = [];
  let ggufTemplate: string | undefined;
  for (const f of files)
    if (isGguf(f.path)) {
      const h = await readGgufHeader(f.real);
      gguf.push(ggufFacts(h));
      ggufTemplate ??= ggufString(h, 'tokenizer.chat_template');
    }

  const texts = new Map<string, string>();
  for (const name of [
    'config.json',
    'README.md',
    'adapter_config.json',
    'tokenizer_config.json',
    'chat_template.jinja',
    'chat_template.json',
    'modules.json',
    ...TRAINER_FILES,
  ]) {
    const f = byPath.get(name);
    if (f) {
      const t = await smallText(f, notes);
      if (t !== undefined) texts.set(name, t);
    }
  }
  let config = texts.has('config.json') ? json(texts.get('config.json')!, 'config.json', notes) : undefined;
  const facts: FolderFacts = { tensors, gguf, derived: {}, notes };
  if (texts.has('config.json') && config === undefined)
    notes.push('config.json is not valid JSON; architecture.family not read from it');

  // sentence-transformers: modules.json names the module folders; the Transformer module holds the config.
  let sentenceTransformers = false;
  let embeddingDimension: number | undefined;
  if (texts.has('modules.json')) {
    const modules = json(texts.get('modules.json')!, 'modules.json', notes);
    if (Array.isArray(modules)) {
      sentenceTransformers = true;
      for (const m of modules as { path?: unknown; type?: unknown }[]) {
        if (typeof m?.path !== 'string' || typeof m.type !== 'string') continue;
        const prefix = m.path === '' ? '' : `${m.path.replace(/\/+$/, '')}/`;
        if (m.type.endsWith('.Transformer') && config === undefined) {
          const c = byPath.get(`${prefix}config.json`);
          if (c) {
            const t = await smallText(c, notes);
            if (t !== undefined) config = json(t, c.path, notes);
          }
        } else if (m.type.endsWith('.Pooling')) {
          const c = byPath.get(`${prefix}config.json`);
          const t = c ? await smallText(c, notes) : undefined;
          const d = t ? (json(t, c!.path, notes) as { word_embedding_dimension?: unknown } | undefined) : undefined;
          if (typeof d?.word_embedding_dimension === 'number') embeddingDimension = d.word_embedding_dimension;
        }
      }
    }
  }
  if (config !== undefined) facts.config = config;

  const derived = facts.derived;
  if (options.source) derived.source = options.source;
  if (texts.has('README.md')) {
    const r = readHfReadme(texts.get('README.md')!);
    if (r) {
      facts.readme = r;
      notes.push(...r.notes);
      if (r.license) derived.license = r.license;
      if (r.language.length) derived.language = r.language;
      if (r.pipelineTag) derived.pipelineTag = r.pipelineTag;
    }
  }
  if (texts.has('adapter_config.json')) facts.peft = readAdapterConfig(texts.get('adapter_config.json')!);

  const hyper: Record<string, number | string | boolean> = {};
  const trainerTexts = new Map(TRAINER_FILES.filter((n) => texts.has(n)).map((n) => [n, texts.get(n)!]));
  const trainer = readTrainerOutput(trainerTexts);
  if (trainer) {
    notes.push(...trainer.notes);
    Object.assign(hyper, trainer.hyperparameters);
    if (Object.keys(trainer.metrics).length) derived.metrics = trainer.metrics;
    if (trainer.durationSeconds !== undefined) derived.durationSeconds = trainer.durationSeconds;
  }
  if (facts.peft) Object.assign(hyper, peftHyperparameters(facts.peft));
  if (Object.keys(hyper).length) derived.hyperparameters = hyper;

  const dvc = await dvcDatasets(byPath, options.codeDir);
  if (dvc.length) derived.datasets = dvc.map((d) => ({ name: d.name, uri: d.uri, md5: d.md5 }));
  const undigested = (facts.readme?.datasets ?? []).filter((id) => !dvc.some((d) => d.name === id.split('/').pop()));
  if (undigested.length)
    notes.push(
      `README.md names dataset${undigested.length === 1 ? '' : 's'} ${undigested.join(', ')} without a digest: not recorded in lineage.datasets (add a .dvc file, or the entry with its sha256)`,
    );

  const tc = byPath.get('tokenizer_config.json');
  // The file's digest (its bytes, as the artifact's sha256), not of the decoded text.
  if (tc && texts.has('tokenizer_config.json')) derived.tokenizerConfigSha256 = sha256Hex(await readFile(tc.real));
  const template = chatTemplate(texts, { ...(ggufTemplate !== undefined ? { template: ggufTemplate } : {}) });
  if (template) derived.chatTemplate = template;

  const iface = deriveInterface({
    ...(derived.pipelineTag ? { pipelineTag: derived.pipelineTag } : {}),
    sentenceTransformers,
    config,
    ...(embeddingDimension !== undefined ? { embeddingDimension } : {}),
  });
  if (iface) derived.interface = iface;
  return facts;
}
