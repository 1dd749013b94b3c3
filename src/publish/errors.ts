// Why a publish refused to write anything: the registry has errors, or referenced bytes are not in the store.
import { EXIT } from '../lib/exit-codes.ts';
import { UserError } from '../lib/errors.ts';
import { type Diagnostic, formatDiagnostic } from '../registry/diagnostics.ts';
import type { ArtifactCheck } from '../store/verify.ts';

/** The registry has errors: nothing was written. Exit 1 like `validate`. */
export class RegistryInvalidError extends UserError {
  readonly diagnostics: Diagnostic[];
  constructor(diagnostics: Diagnostic[], where: string) {
    const errors = diagnostics.filter((d) => d.severity === 'error');
    super(
      `the registry at ${where} has ${errors.length} error(s); nothing was published:\n${errors.slice(0, 20).map(formatDiagnostic).join('\n')}` +
        (errors.length > 20 ? `\n… and ${errors.length - 20} more (run model-gitops validate)` : ''),
      { exitCode: EXIT.violations },
    );
    this.name = 'RegistryInvalidError';
    this.diagnostics = diagnostics;
  }
}

export interface MissingBlob {
  sha256: string;
  size: number;
  blobKey: string;
  status: ArtifactCheck['status'];
  detail?: string;
  usedBy: string[];
}

/** Referenced bytes are not in the store (or do not match): nothing was written. Exit 1. */
export class MissingBlobsError extends UserError {
  readonly missing: MissingBlob[];
  constructor(store: string, missing: MissingBlob[]) {
    const lines = missing.map(
      (m) => `  ${m.usedBy.join(', ')}: ${m.blobKey} (${m.status}${m.detail ? `: ${m.detail}` : ''})`,
    );
    super(
      `${missing.length} referenced file(s) are missing or wrong in ${store}; nothing was published (push them first: model-gitops push):\n${lines.join('\n')}`,
      { exitCode: EXIT.violations },
    );
    this.name = 'MissingBlobsError';
    this.missing = missing;
  }
}
