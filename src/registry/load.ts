// Loads a registry (models/ and environments/) from a source: parses every file strictly, validates it
// against its schema and checks that each file is where its content says it belongs. Files that fail
// are reported and left out, so the cross-file rules only ever see well-formed data.
import semver from 'semver';
import { type DiagnosticSink, fieldPath } from './diagnostics.ts';
import type { RegistrySource } from './source.ts';
import { type SchemaName, validateAgainstSchema } from './schemas.ts';
import { DEFAULT_MAX_FILE_BYTES, type YamlFile, locate, parseYamlFile } from './yaml-file.ts';
import {
  type Environment,
  type EnvironmentFile,
  type ModelCard,
  type ModelEntry,
  type VersionCard,
  normaliseDeployment,
} from './types.ts';

export const MODEL_NAME = /^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){0,63}$/;
export const ENVIRONMENT_NAME = /^[a-z][a-z0-9-]{0,63}$/;
const WEIGHT_EXTENSIONS = /\.(safetensors|gguf|bin|pt|pth|ckpt|onnx|h5|npz|pkl)$/i;

export interface Registry {
  source: string;
  models: Map<string, ModelEntry>;
  environments: Map<string, Environment>;
  /** Environment files that exist but failed their own checks (reported there, not again by `requires`). */
  brokenEnvironments: Set<string>;
  /** Every file that parsed, by repository-relative path (for locating later diagnostics). */
  files: Map<string, YamlFile>;
  /** Number of files looked at. */
  fileCount: number;
}

export interface LoadOptions {
  maxFileBytes?: number;
}

type FileKind =
  | { kind: 'model'; model: string }
  | { kind: 'version'; model: string; version: string }
  | { kind: 'environment'; environment: string }
  | { kind: 'ignored' }
  | { kind: 'unexpected'; why: string };

export function classify(path: string): FileKind {
  const parts = path.split('/');
  if (parts[parts.length - 1] === '.gitkeep' || /\.md$/i.test(path)) return { kind: 'ignored' };
  if (WEIGHT_EXTENSIONS.test(path)) {
    return {
      kind: 'unexpected',
      why: 'weights never go in git: upload them with `model-gitops push` and list them under artifacts',
    };
  }
  if (parts[0] === 'environments') {
    if (parts.length === 2 && parts[1]!.endsWith('.yaml'))
      return { kind: 'environment', environment: parts[1]!.slice(0, -5) };
    if (parts.length === 2 && parts[1]!.endsWith('.yml'))
      return { kind: 'unexpected', why: 'environment files end in .yaml, not .yml' };
    return { kind: 'unexpected', why: 'environments/ holds only <environment>.yaml files' };
  }
  if (parts[0] === 'models') {
    if (parts.length === 3 && parts[2] === 'model.yaml') return { kind: 'model', model: parts[1]! };
    if (parts.length === 4 && parts[2] === 'versions') {
      const f = parts[3]!;
      if (f.endsWith('.yaml')) return { kind: 'version', model: parts[1]!, version: f.slice(0, -5) };
      if (f.endsWith('.yml')) return { kind: 'unexpected', why: 'version cards end in .yaml, not .yml' };
    }
    return {
      kind: 'unexpected',
      why: 'models/ holds models/<name>/model.yaml and models/<name>/versions/<version>.yaml',
    };
  }
  return { kind: 'unexpected', why: 'not a registry file' };
}

/**
 * Whether `v` is written exactly as a semantic version. `semver.valid` normalises (drops build metadata,
 * accepts a leading v or =), so compare its parts with the text instead.
 */
function isExactSemver(v: string): boolean {
  const parsed = semver.parse(v);
  return parsed !== null && `${parsed.version}${parsed.build.length > 0 ? `+${parsed.build.join('.')}` : ''}` === v;
}

/** A registry with nothing loaded yet (what loadRegistry fills, and what merged shares start from). */
export function emptyRegistry(label: string): Registry {
  return {
    source: label,
    models: new Map(),
    environments: new Map(),
    brokenEnvironments: new Set(),
    files: new Map(),
    fileCount: 0,
  };
}

export function loadRegistry(source: RegistrySource, sink: DiagnosticSink, options: LoadOptions = {}): Registry {
  const maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const registry = emptyRegistry(source.label);
  const entry = (name: string): ModelEntry => {
    let m = registry.models.get(name);
    if (!m) {
      m = {
        name,
        cardFile: `models/${name}/model.yaml`,
        cardPresent: false,
        brokenVersions: new Set(),
        versions: new Map(),
      };
      registry.models.set(name, m);
    }
    return m;
  };
  const fileLevel = (file: string, message: string, rule: string) =>
    sink.add({ file, line: 1, column: 1, field: '', message, rule });

  for (const e of source.entries()) {
    registry.fileCount++;
    const kind = classify(e.path);
    if (kind.kind === 'ignored') continue;
    if (e.problem !== undefined) {
      // The file exists even though it cannot be read: references to it must not say it is missing.
      if (kind.kind === 'version' && MODEL_NAME.test(kind.model) && isExactSemver(kind.version))
        entry(kind.model).brokenVersions.add(kind.version);
      if (kind.kind === 'model' && MODEL_NAME.test(kind.model)) entry(kind.model).cardPresent = true;
      if (kind.kind === 'environment') registry.brokenEnvironments.add(kind.environment);
      fileLevel(e.path, e.problem, e.problemRule ?? 'file-access');
      continue;
    }
    if (kind.kind === 'unexpected') {
      fileLevel(e.path, `unexpected file: ${kind.why}`, 'layout');
      continue;
    }

    const modelFolder = kind.kind === 'environment' ? undefined : kind.model;
    if (modelFolder !== undefined && !MODEL_NAME.test(modelFolder)) {
      fileLevel(
        e.path,
        `folder name "${modelFolder}" is not a valid model name: lower-case letters, digits and single hyphens, starting with a letter`,
        'identity-folder',
      );
      continue;
    }
    if (kind.kind === 'environment' && !ENVIRONMENT_NAME.test(kind.environment)) {
      fileLevel(
        e.path,
        `"${kind.environment}" is not a valid environment name: lower-case letters, digits and hyphens, starting with a letter`,
        'identity-file',
      );
      continue;
    }
    if (kind.kind === 'version' && !isExactSemver(kind.version)) {
      fileLevel(
        e.path,
        `file name "${kind.version}.yaml" is not a semantic version such as 1.4.2.yaml`,
        'identity-file',
      );
      continue;
    }

    if (kind.kind === 'model') entry(kind.model).cardPresent = true;
    // Until it passes every check below, a version file counts as present-but-broken.
    if (kind.kind === 'version') entry(kind.model).brokenVersions.add(kind.version);
    if (kind.kind === 'environment') registry.brokenEnvironments.add(kind.environment);
    const parsed = parseYamlFile(e.path, e.bytes!, maxFileBytes);
    if (!parsed.ok) {
      for (const d of parsed.diagnostics) sink.add(d);
      continue;
    }
    const y = parsed.value;
    const schema: SchemaName =
      kind.kind === 'model' ? 'model' : kind.kind === 'version' ? 'model-version' : 'environment';
    const schemaErrors = validateAgainstSchema(y, schema);
    if (schemaErrors.length > 0) {
      for (const d of schemaErrors) sink.add(d);
      continue;
    }
    registry.files.set(e.path, y);

    const at = (path: (string | number)[], message: string, rule: string) => {
      const pos = locate(y, path);
      sink.add({ file: e.path, line: pos.line, column: pos.column, field: fieldPath(path), message, rule });
    };
    if (kind.kind === 'model') {
      const card = y.data as ModelCard;
      if (card.name !== kind.model) {
        at(['name'], `name "${card.name}" must equal its folder name "${kind.model}"`, 'identity-folder');
        continue;
      }
      entry(kind.model).card = card;
    } else if (kind.kind === 'version') {
      const card = y.data as VersionCard;
      let ok = true;
      if (card.name !== kind.model) {
        at(['name'], `name "${card.name}" must equal its folder name "${kind.model}"`, 'identity-folder');
        ok = false;
      }
      if (card.version !== kind.version) {
        at(['version'], `version "${card.version}" must equal the file name "${kind.version}.yaml"`, 'identity-file');
        ok = false;
      }
      if (ok) {
        entry(kind.model).versions.set(card.version, { file: e.path, card });
        entry(kind.model).brokenVersions.delete(card.version);
      }
    } else {
      registry.brokenEnvironments.delete(kind.environment);
      const env = y.data as EnvironmentFile;
      const deployments = new Map(Object.entries(env.models).map(([m, d]) => [m, normaliseDeployment(d)] as const));
      registry.environments.set(kind.environment, {
        name: kind.environment,
        file: e.path,
        deployments,
        ...(env.requires !== undefined ? { requires: env.requires } : {}),
        ...(env.description !== undefined ? { description: env.description } : {}),
      });
    }
  }
  return registry;
}
