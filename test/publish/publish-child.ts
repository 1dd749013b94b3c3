// A publisher process for the race and crash tests: `node publish-child.ts <store> <repo> <keysDir> <commit> [--recover]`.
// Same publishRegistry as the CLI, without loading every other command (the test machine is small).
import { FolderStore } from '../../src/store/fs-store.ts';
import type { BlobStore } from '../../src/store/types.ts';
import { publishRegistry } from '../../src/publish/publish.ts';
import { loadPublishKeys } from '../../src/trust/role-keys.ts';

const [storeUrl, repo, keysDir, commit, flag] = process.argv.slice(2) as [string, string, string, string, string?];
const store: BlobStore = storeUrl.startsWith('s3://')
  ? new (await import('../../src/store/s3-store.ts')).S3Store(storeUrl)
  : new FolderStore(storeUrl);
const started = Date.now();
const r = await publishRegistry({
  repo,
  store,
  keys: loadPublishKeys(keysDir),
  recoverOrphans: flag === '--recover',
  source: { repository: 'acme/models', commit },
});
process.stdout.write(`${JSON.stringify({ ...r, ms: Date.now() - started })}\n`);
