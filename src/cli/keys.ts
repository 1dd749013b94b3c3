// `model-gitops keys init`: generate the TUF role keys, initialise the trust repository in the store,
// pin its root in the repository (trust/root.json) and say which CI secret gets which key.
// Private keys go to 0600 files only; nothing this command prints contains private material.
import { sha256Hex } from '../lib/hash.ts';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { UserError } from '../lib/errors.ts';
import { storeUrlOrDefault } from '../store/default.ts';
import { generateSigningKey } from '../trust/keys.ts';
import { initRepository, rootKey } from '../trust/repository.ts';
import { KEY_ENV, ONLINE_ROLES, keyFile, writeKeyFile } from '../trust/role-keys.ts';
import { openTrustStore } from '../trust/store-io.ts';
import { EXIT } from '../lib/exit-codes.ts';
import { type Command, intOption, parseCommandArgs, subcommands } from './command.ts';
import { keysDirOf } from './trust-common.ts';
import { printJson } from './output.ts';

const usage =
  'model-gitops keys init [--store URL] [--keys-dir DIR] [--root-keys N] [--root-threshold K] [--repo DIR] [--json]';
export const TRUST_ROOT_FILE = 'trust/root.json';

function count(name: string, v: string, max: number): number {
  return intOption(name, v, { min: 1, max })!;
}

async function init(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    argv,
    {
      store: { type: 'string' },
      'keys-dir': { type: 'string' },
      'root-keys': { type: 'string', default: '1' },
      'root-threshold': { type: 'string', default: '1' },
      repo: { type: 'string', default: '.' },
      json: { type: 'boolean', default: false },
    },
    usage,
  );
  if (values.help) {
    console.log(`usage: ${usage}`);
    return EXIT.ok;
  }
  const repo = resolve(values.repo);
  const keysDir = keysDirOf(values['keys-dir'], repo);
  const storeUrl = storeUrlOrDefault(values.store, repo);
  const n = count('root-keys', values['root-keys'], 16);
  const k = count('root-threshold', values['root-threshold'], 16);
  if (k > n) throw new UserError(`--root-threshold ${k} is more than --root-keys ${n}`);

  // Refuse before writing anything: existing keys, an existing pinned root, an initialised store.
  const rootFiles = Array.from({ length: n }, (_, i) => keyFile(keysDir, `root-${i + 1}`));
  const onlineFiles = ONLINE_ROLES.map((r) => keyFile(keysDir, r));
  const existing = [...rootFiles, ...onlineFiles].filter((f) => existsSync(f));
  if (existing.length)
    throw new UserError(
      `refusing to overwrite existing keys: ${existing.join(', ')} (keys are generated once; to replace them, rotate the root)`,
    );
  const pinned = join(repo, TRUST_ROOT_FILE);
  if (existsSync(pinned))
    throw new UserError(
      `${pinned} already exists: this repository already pins a trust root (rotate the root instead of re-initialising)`,
    );
  const io = openTrustStore(storeUrl);
  if ((await io.get(rootKey(1))) !== undefined)
    throw new UserError(
      `${storeUrl} already has ${rootKey(1)}: the trust repository is initialised (rotate the root instead)`,
    );

  const rootKeys = rootFiles.map(() => generateSigningKey());
  const online = { targets: generateSigningKey(), snapshot: generateSigningKey(), timestamp: generateSigningKey() };
  mkdirSync(keysDir, { recursive: true, mode: 0o700 });
  if (!existsSync(join(keysDir, '.gitignore')))
    writeFileSync(join(keysDir, '.gitignore'), '# private keys: never commit\n*\n');
  rootKeys.forEach((key, i) => writeKeyFile(rootFiles[i]!, key));
  for (const role of ONLINE_ROLES) writeKeyFile(keyFile(keysDir, role), online[role]);

  const { rootBytes } = await initRepository({
    io,
    rootKeys,
    rootThreshold: k,
    targetsKeys: [online.targets],
    snapshotKey: online.snapshot,
    timestampKey: online.timestamp,
  });
  mkdirSync(dirname(pinned), { recursive: true });
  writeFileSync(pinned, rootBytes, { flag: 'wx' });

  const rel = (p: string) => (relative(process.cwd(), p).startsWith('..') ? p : relative(process.cwd(), p) || '.');
  const secrets = ONLINE_ROLES.map((role) => ({
    role,
    file: rel(keyFile(keysDir, role)),
    keyId: online[role].keyId,
    secret: KEY_ENV[role],
    command: `gh secret set ${KEY_ENV[role]} --env production < ${rel(keyFile(keysDir, role))}`,
  }));
  const out = {
    store: storeUrl,
    trustRoot: rel(pinned),
    trustRootSha256: sha256Hex(rootBytes),
    rootVersion: 1,
    rootThreshold: k,
    rootKeys: rootKeys.map((key, i) => ({ file: rel(rootFiles[i]!), keyId: key.keyId })),
    onlineKeys: secrets,
  };
  if (values.json) {
    printJson(out);
    return EXIT.ok;
  }
  console.log(`Trust repository initialised in ${storeUrl}: root version 1, ${n} root key(s), threshold ${k}.`);
  console.log(
    `Pinned root for devices: ${out.trustRoot} (sha256 ${out.trustRootSha256}); commit it and ship it with every device.`,
  );
  console.log('');
  console.log(`Keys (private, mode 0600, git-ignored) in ${rel(keysDir)}:`);
  for (const r of out.rootKeys)
    console.log(
      `  ${r.file}  root  ${r.keyId.slice(0, 16)}…  OFFLINE: move to offline storage and delete it here; needed only to rotate keys`,
    );
  for (const s of secrets)
    console.log(`  ${s.file}  ${s.role}  ${s.keyId.slice(0, 16)}…  online: CI secret ${s.secret}`);
  console.log('');
  console.log('Give CI its online keys (secrets of the "production" environment the publish workflow runs in):');
  for (const s of secrets) console.log(`  ${s.command}`);
  console.log(
    'Then delete the online key files from this machine too, or keep them only where `model-gitops publish --keys-dir` runs.',
  );
  console.log('Never give CI a root key.');
  return EXIT.ok;
}

export const keysCommand: Command = subcommands('keys', usage, { init });
