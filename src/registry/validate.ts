// `validate`: load every registry file, check its schema and identity, then the cross-file rules.
import { type Diagnostic, DiagnosticSink } from './diagnostics.ts';
import { type LoadOptions, type Registry, loadRegistry } from './load.ts';
import { checkRegistryRules } from './rules.ts';
import type { RegistrySource } from './source.ts';

export interface ValidationResult {
  registry: Registry;
  diagnostics: Diagnostic[];
  errors: number;
  warnings: number;
  counts: { files: number; models: number; versions: number; environments: number };
}

export function validateRegistry(source: RegistrySource, options: LoadOptions = {}): ValidationResult {
  const sink = new DiagnosticSink();
  const registry = loadRegistry(source, sink, options);
  checkRegistryRules(registry, sink);
  const diagnostics = sink.sorted();
  const errors = diagnostics.filter((d) => d.severity === 'error').length;
  let versions = 0;
  for (const m of registry.models.values()) versions += m.versions.size;
  return {
    registry,
    diagnostics,
    errors,
    warnings: diagnostics.length - errors,
    counts: {
      files: registry.fileCount,
      models: registry.models.size,
      versions,
      environments: registry.environments.size,
    },
  };
}
