// What to sync: for each model of the environment, the version this device should run (the champion,
// or the canary it is routed to), that version's files as the manifest lists them, and what runs now.
import type { Manifest, ManifestFile } from '../manifest/manifest.ts';
import { pickVersion } from './device-routing.ts';
import { VerificationError } from './errors.ts';
import { activeVersion } from './local-store.ts';

export interface Target {
  model: string;
  version: string;
  role: 'champion' | 'canary';
  files: ManifestFile[];
  active?: string;
}

/** The targets of `environment` in its manifest slice, every file checked; `deviceKey` routes canaries. */
export async function selectTargets(
  slice: Manifest,
  environment: string,
  dir: string,
  device: { deviceKey?: string; canary?: boolean },
): Promise<Target[]> {
  const targets: Target[] = [];
  for (const [model, d] of Object.entries(slice.environments[environment]!.models)) {
    const pick = pickVersion(d, { environment, model, ...device });
    const files = slice.models[model]?.versions[pick.version]?.files;
    if (!files)
      throw new VerificationError(`manifest lists ${model}@${pick.version} in ${environment} without its files`);
    for (const f of files) checkFile(model, pick.version, f);
    const active = await activeVersion(dir, model);
    targets.push({ model, ...pick, files, ...(active ? { active } : {}) });
  }
  return targets;
}

const SHA = /^[0-9a-f]{64}$/;

/** A signed manifest is still checked for paths that would escape the version folder. */
export function checkFile(model: string, version: string, f: ManifestFile): void {
  const bad =
    !f.path ||
    f.path.startsWith('/') ||
    f.path.includes('\\') ||
    f.path.split('/').some((seg) => seg === '' || seg === '.' || seg === '..');
  if (bad) throw new VerificationError(`${model}@${version}: unsafe file path "${f.path}" in the manifest`);
  if (!SHA.test(f.sha256) || !Number.isSafeInteger(f.size) || f.size < 0)
    throw new VerificationError(`${model}@${version}: ${f.path} has no valid sha256/size in the manifest`);
  if (/[\\/]/.test(model) || model.startsWith('.') || /[\\/]/.test(version) || version.startsWith('.'))
    throw new VerificationError(`unsafe model or version name ${model}@${version}`);
}
