// Publisher side, keys and the folder store: real ed25519 keys, real files, real processes.
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { MetadataKind } from '@tufjs/models';
import { describe, expect, test } from 'vitest';
import { UserError } from '../../src/lib/errors.ts';
import {
  generateSigningKey,
  loadSigningKey,
  loadSigningKeyFromEnv,
  parseSigningKey,
  tufKeyId,
} from '../../src/trust/keys.ts';
import { checkStoreKey, FolderTrustStore } from '../../src/trust/repository-io.ts';
import {
  ConcurrentPublishError,
  initRepository,
  publishManifest,
  resign,
  rotateRoot,
} from '../../src/trust/repository.ts';
import { ROOT, tempDir } from '../helpers.ts';
import {
  craft,
  DAY_MS,
  expectRefused,
  file,
  makeRepo,
  manifestOf,
  NODE_TS,
  overwrite,
  publish,
  readMeta,
  sha256Hex,
  verify,
} from './helpers.ts';

describe('keys', () => {
  test('one-line secret round-trips; key ids are TUF key ids', () => {
    const k = generateSigningKey();
    const secret = k.exportSecret();
    expect(secret).toMatch(/^model-gitops-key:v1:ed25519:[0-9a-f]{64}:[A-Za-z0-9+/=]+$/);
    expect(secret).not.toContain('\n');
    const back = parseSigningKey(`  ${secret}\n`);
    expect(back.keyId).toBe(k.keyId);
    expect(back.keyId).toBe(tufKeyId(k.publicHex));
    // Same key: its signature verifies under the other's public key.
    const sig = back.signer(Buffer.from('x'));
    expect(sig.keyID).toBe(k.keyId);
    const dir = tempDir();
    writeFileSync(join(dir, 'k'), secret);
    expect(loadSigningKey({ file: join(dir, 'k') }).keyId).toBe(k.keyId);
    expect(loadSigningKeyFromEnv('MG_KEY', { MG_KEY: secret }).keyId).toBe(k.keyId);
  });

  test('private material is never printed', () => {
    const k = generateSigningKey();
    const b64 = k.exportSecret().split(':').pop()!;
    for (const shown of [JSON.stringify(k), inspect(k), String(k), `${k}`, inspect({ k }, { depth: 5 })]) {
      expect(shown).not.toContain(b64);
      expect(shown).not.toContain(b64.slice(20, 40));
    }
  });

  test('damaged or missing secrets give clear errors without echoing the secret', () => {
    const secret = generateSigningKey().exportSecret();
    const other = generateSigningKey();
    expect(() => loadSigningKeyFromEnv('MG_KEY', {})).toThrow(/environment variable MG_KEY is not set/);
    expect(() => parseSigningKey('hunter2', 'environment variable MG_KEY')).toThrow(
      /MG_KEY does not hold a model-gitops signing key/,
    );
    const swapped = secret.replace(/:[0-9a-f]{64}:/, `:${other.keyId}:`);
    expect(() => parseSigningKey(swapped)).toThrow(/damaged signing key: it says key id/);
    const truncated = secret.slice(0, -12);
    const e = (() => {
      try {
        parseSigningKey(truncated, 'key file k');
      } catch (err) {
        return err as Error;
      }
    })();
    expect(e).toBeInstanceOf(UserError);
    expect(e!.message).toMatch(/key file k/);
    expect(e!.message).not.toContain(truncated.slice(-30));
  });
});

describe('folder store IO', () => {
  test('refuses keys that leave the root', async () => {
    const io = new FolderTrustStore(tempDir());
    for (const bad of ['../x', 'a/../../x', '/etc/passwd', 'a//b', './a', 'a\\b', '']) {
      expect(() => checkStoreKey(bad)).toThrow(UserError);
      await expect(io.put(bad, Buffer.from('x'))).rejects.toThrow(/invalid store key/);
    }
  });

  test('put replaces atomically; putIfAbsent creates once; no temp files are left', async () => {
    const dir = tempDir();
    const io = new FolderTrustStore(dir);
    expect(await io.get('metadata/x.json')).toBeUndefined();
    expect(await io.putIfAbsent('metadata/x.json', Buffer.from('one'))).toBe(true);
    expect(await io.putIfAbsent('metadata/x.json', Buffer.from('two'))).toBe(false);
    expect((await io.get('metadata/x.json'))!.toString()).toBe('one');
    await io.put('metadata/x.json', Buffer.from('three'));
    expect((await io.get('metadata/x.json'))!.toString()).toBe('three');
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => io.putIfAbsent('race.json', Buffer.from(String(i)))),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(readdirSync(join(dir, 'metadata'))).toEqual(['x.json']);
    expect(readdirSync(dir).sort()).toEqual(['metadata', 'race.json']);
  });
});

describe('publishing', () => {
  test('layout: content-addressed manifest, consistent snapshots, timestamp.json as the pointer', async () => {
    const repo = await makeRepo();
    expect(readFileSync(join(repo.dir, 'metadata/1.root.json')).equals(repo.rootBytes)).toBe(true);
    const r1 = await publish(repo, 1);
    const r2 = await publish(repo, 2);
    expect(r1).toMatchObject({
      targetsVersion: 1,
      snapshotVersion: 1,
      timestampVersion: 1,
      sha256: sha256Hex(manifestOf(1)),
      length: manifestOf(1).length,
    });
    expect(r2).toMatchObject({ targetsVersion: 2, snapshotVersion: 2, timestampVersion: 2 });
    expect(readdirSync(join(repo.dir, 'metadata')).sort()).toEqual(
      [
        '1.root.json',
        '1.snapshot.json',
        '1.targets.json',
        '2.snapshot.json',
        '2.targets.json',
        'timestamp.json',
      ].sort(),
    );
    expect(file(repo, `targets/${r2.sha256}.manifest.json`).equals(manifestOf(2))).toBe(true);
    const t = readMeta(repo, MetadataKind.Targets, 'metadata/2.targets.json');
    expect(t.signed.targets['manifest.json']).toMatchObject({ length: r2.length, hashes: { sha256: r2.sha256 } });
    const ts = readMeta(repo, MetadataKind.Timestamp, 'metadata/timestamp.json');
    expect(ts.signed.snapshotMeta).toMatchObject({ version: 2, length: file(repo, 'metadata/2.snapshot.json').length });
  });

  test('refuses non-JSON manifests, keys the root does not trust, and double init', async () => {
    const repo = await makeRepo();
    await expect(publishManifest({ io: repo.io, manifestBytes: Buffer.from('nope'), keys: repo.keys })).rejects.toThrow(
      /not JSON/,
    );
    await expect(
      publishManifest({
        io: repo.io,
        manifestBytes: manifestOf(1),
        keys: { ...repo.keys, targets: generateSigningKey() },
      }),
    ).rejects.toThrow(/the targets key [0-9a-f]{12}… is not one of the keys root version 1 trusts for targets/);
    await expect(
      publishManifest({ io: repo.io, manifestBytes: manifestOf(1), keys: { ...repo.keys, timestamp: repo.snapshot } }),
    ).rejects.toThrow(/trusts for timestamp/);
    await expect(
      initRepository({
        io: repo.io,
        rootKeys: repo.rootKeys,
        rootThreshold: 1,
        targetsKeys: [repo.targets],
        snapshotKey: repo.snapshot,
        timestampKey: repo.timestamp,
      }),
    ).rejects.toThrow(/already has metadata\/1\.root\.json/);
    await expect(
      publishManifest({ io: new FolderTrustStore(tempDir()), manifestBytes: manifestOf(1), keys: repo.keys }),
    ).rejects.toThrow(/initialise the trust repository first/);
  });

  test('two publishers in separate processes: exactly one wins each version, the loser retries, nothing is lost', async () => {
    const repo = await makeRepo();
    const dir = tempDir();
    const secrets = join(dir, 'secrets.json');
    writeFileSync(
      secrets,
      JSON.stringify({
        targets: repo.targets.exportSecret(),
        snapshot: repo.snapshot.exportSecret(),
        timestamp: repo.timestamp.exportSecret(),
      }),
    );
    const barrier = join(dir, 'barrier');
    mkdirSync(barrier);
    const worker = join(ROOT, 'test/trust/fixtures/publish-worker.ts');
    const run = (label: string) =>
      new Promise<Array<{ label: string; n: number; targetsVersion: number; sha256: string; attempts: number }>>(
        (ok, fail) => {
          const p = spawn(NODE_TS, [worker, repo.dir, secrets, label, '3', barrier, '2'], {
            stdio: ['ignore', 'pipe', 'pipe'],
          });
          let out = '';
          let err = '';
          p.stdout.on('data', (d: Buffer) => {
            out += d.toString();
          });
          p.stderr.on('data', (d: Buffer) => {
            err += d.toString();
          });
          p.on('close', (code) =>
            code === 0
              ? ok(
                  out
                    .trim()
                    .split('\n')
                    .map((l) => JSON.parse(l)),
                )
              : fail(new Error(`worker ${label} exited ${code}: ${err}`)),
          );
        },
      );
    const [a, b] = await Promise.all([run('a'), run('b')]);
    const all = [...a, ...b];
    // Six publications, six distinct versions 1..6: each version claimed exactly once.
    expect(all.map((r) => r.targetsVersion).sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6]);
    // The first claim was a real race (both waited at the barrier): one of them lost and retried.
    const firsts = [a[0]!, b[0]!].sort((x, y) => x.targetsVersion - y.targetsVersion);
    expect(firsts[0]!.attempts).toBe(1);
    expect(firsts[1]!.attempts).toBeGreaterThan(1);
    // No lost update: every version's targets vouches for the manifest of the publish that reported it.
    for (const r of all) {
      const t = readMeta(repo, MetadataKind.Targets, `metadata/${r.targetsVersion}.targets.json`);
      expect(t.signed.targets['manifest.json']!.hashes['sha256']).toBe(r.sha256);
    }
    const last = all.find((r) => r.targetsVersion === 6)!;
    const v = await verify(repo, tempDir());
    expect(v).toMatchObject({ targetsVersion: 6, sha256: last.sha256 });
    expect(v.manifest).toEqual({ publisher: last.label, n: last.n });
  });

  test('a lost race is a ConcurrentPublishError that names the version; a crashed claim can be skipped', async () => {
    const repo = await makeRepo();
    await publish(repo, 1);
    // Another publisher (or a crashed one) already claimed snapshot version 2.
    overwrite(repo, 'metadata/2.snapshot.json', file(repo, 'metadata/1.snapshot.json'));
    const e = await publish(repo, 2).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(ConcurrentPublishError);
    expect((e as ConcurrentPublishError).version).toBe(2);
    expect((e as Error).message).toMatch(/^concurrent publish: snapshot version 2 already exists in the store .*retry/);
    // Nothing it wrote is referenced: clients still see publication 1.
    expect((await verify(repo, tempDir())).targetsVersion).toBe(1);
    const r = await publishManifest({
      io: repo.io,
      manifestBytes: manifestOf(2),
      keys: repo.keys,
      skipOrphanedVersions: true,
    });
    expect(r).toMatchObject({ snapshotVersion: 3, targetsVersion: 2 });
    expect((await verify(repo, tempDir())).manifestBytes.equals(manifestOf(2))).toBe(true);
  });
});

describe('re-signing', () => {
  test('keeps the manifest, bumps versions and extends expiry', async () => {
    const repo = await makeRepo();
    const pub = await publish(repo, 1, new Date(Date.now() - 2 * DAY_MS));
    const state = tempDir();
    await expectRefused(verify(repo, state), 'freeze', /timestamp\.json .*expired/);
    // targets (7 days) still has 5 days: more than half its life left, so only the online roles are re-signed.
    const r = await resign({ io: repo.io, keys: { snapshot: repo.snapshot, timestamp: repo.timestamp } });
    expect(r).toMatchObject({ timestampVersion: 2, snapshotVersion: 2, targetsVersion: 1, targetsRenewed: false });
    const v = await verify(repo, state);
    expect(v).toMatchObject({ sha256: pub.sha256, targetsVersion: 1, timestampVersion: 2 });
    expect(v.manifestBytes.equals(manifestOf(1))).toBe(true);
    expect(
      new Date(readMeta(repo, MetadataKind.Timestamp, 'metadata/timestamp.json').signed.expires).getTime(),
    ).toBeGreaterThan(Date.now() + 0.9 * DAY_MS);
  });

  test('renews targets when it is close to expiry, and asks for the targets key when it is missing', async () => {
    const repo = await makeRepo();
    const pub = await publish(repo, 1, new Date(Date.now() - 6 * DAY_MS)); // targets expires in 1 day
    await expect(resign({ io: repo.io, keys: { snapshot: repo.snapshot, timestamp: repo.timestamp } })).rejects.toThrow(
      /targets\.json \(version 1\) expires at .*pass the targets key/,
    );
    const r = await resign({ io: repo.io, keys: repo.keys });
    expect(r).toMatchObject({ targetsRenewed: true, targetsVersion: 2, snapshotVersion: 2, timestampVersion: 2 });
    expect(new Date(r.expires.targets).getTime()).toBeGreaterThan(Date.now() + 6 * DAY_MS);
    const v = await verify(repo, tempDir());
    expect(v).toMatchObject({ sha256: pub.sha256, targetsVersion: 2 });
    expect(new Date(v.expires).getTime()).toBeGreaterThan(Date.now() + 0.9 * DAY_MS);
  });
});

describe('root rotation and thresholds', () => {
  test('a new root signed by old and new keys: the client follows; old keys alone can no longer rotate', async () => {
    const repo = await makeRepo();
    await publish(repo, 1);
    const state = tempDir();
    await verify(repo, state);
    const newRoot = [generateSigningKey(), generateSigningKey()];
    const rot = await rotateRoot({
      io: repo.io,
      oldRootKeys: repo.rootKeys,
      newRootKeys: newRoot,
      newRootThreshold: 2,
    });
    expect(rot.rootVersion).toBe(2);
    await publish(repo, 2);
    const v = await verify(repo, state);
    expect(v).toMatchObject({ rootVersion: 2, targetsVersion: 2 });
    expect(readFileSync(join(state, 'root.json')).equals(rot.rootBytes)).toBe(true);
    // A device that pinned version 1 walks the chain too.
    expect((await verify(repo, tempDir())).rootVersion).toBe(2);

    // Version 3 signed by the (now retired) old key only: refused.
    const r2 = readMeta(repo, MetadataKind.Root, 'metadata/2.root.json');
    overwrite(
      repo,
      'metadata/3.root.json',
      craft(
        MetadataKind.Root,
        r2,
        (s) => {
          s['version'] = 3;
        },
        repo.rootKeys,
      ),
    );
    await expectRefused(
      verify(repo, state),
      'unsigned',
      /3\.root\.json.*root version 3 is signed by 0 of the 2 keys required/,
    );
    // The publisher refuses to write it in the first place.
    await expect(
      rotateRoot({
        io: new FolderTrustStore(tempDir()),
        oldRootKeys: repo.rootKeys,
        newRootKeys: newRoot,
        newRootThreshold: 2,
      }),
    ).rejects.toThrow(/initialise/);
  });

  test('a new root signed only by the new keys is refused', async () => {
    const repo = await makeRepo();
    await publish(repo, 1);
    const state = tempDir();
    await verify(repo, state);
    const newKey = generateSigningKey();
    const r1 = readMeta(repo, MetadataKind.Root, 'metadata/1.root.json');
    const forged = craft(
      MetadataKind.Root,
      r1,
      (s) => {
        s['version'] = 2;
        s['keys'] = {
          ...(s['keys'] as object),
          [newKey.keyId]: { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: newKey.publicHex } },
        };
        (s['roles'] as Record<string, { keyids: string[] }>)['root']!.keyids = [newKey.keyId];
      },
      [newKey],
    );
    overwrite(repo, 'metadata/2.root.json', forged);
    await expectRefused(
      verify(repo, state),
      'unsigned',
      /2\.root\.json.*root version 2 is signed by 0 of the 1 keys required.*no valid signature by a key the trusted root lists for root/,
    );
    expect(readMeta(repo, MetadataKind.Root, 'metadata/1.root.json').signed.version).toBe(1);
    expect(JSON.parse(readFileSync(join(state, 'root.json'), 'utf8')).signed.version).toBe(1);
    // The publisher notices the forged root in the store too, and will not build on it.
    await expect(publish(repo, 2)).rejects.toThrow(
      /metadata\/2\.root\.json in the store is not a valid successor of root version 1: root was signed by 0\/1 keys/,
    );
    // Nor will it write such a root itself.
    rmSync(join(repo.dir, 'metadata/2.root.json'));
    await expect(
      rotateRoot({ io: repo.io, oldRootKeys: [newKey], newRootKeys: [newKey], newRootThreshold: 1 }),
    ).rejects.toThrow(/the root key [0-9a-f]{12}… is not one of the keys root version 1 trusts for root/);
  });

  test('threshold 2-of-3: one signature is refused, two are accepted', async () => {
    const repo = await makeRepo({ rootCount: 3, rootThreshold: 2 });
    const [k1, k2, k3] = repo.rootKeys as [
      ReturnType<typeof generateSigningKey>,
      ReturnType<typeof generateSigningKey>,
      ReturnType<typeof generateSigningKey>,
    ];
    await publish(repo, 1);
    const state = tempDir();
    await verify(repo, state);
    // The publisher will not rotate with one key.
    await expect(
      rotateRoot({ io: repo.io, oldRootKeys: [k1], newRootKeys: [k1, k2, k3], newRootThreshold: 2 }),
    ).rejects.toThrow(/root needs 2 signatures \(threshold of root version 1\) but 1 key\(s\) were given/);
    // Crafted with one signature: the client refuses.
    const r1 = readMeta(repo, MetadataKind.Root, 'metadata/1.root.json');
    overwrite(
      repo,
      'metadata/2.root.json',
      craft(
        MetadataKind.Root,
        r1,
        (s) => {
          s['version'] = 2;
        },
        [k1],
      ),
    );
    await expectRefused(verify(repo, state), 'tampered', /root version 2 is signed by 1 of the 2 keys required/);
    // Two signatures: accepted.
    overwrite(
      repo,
      'metadata/2.root.json',
      craft(
        MetadataKind.Root,
        r1,
        (s) => {
          s['version'] = 2;
        },
        [k1, k3],
      ),
    );
    expect((await verify(repo, state)).rootVersion).toBe(2);
    // And rotateRoot with two of three old keys produces version 3, which the client follows.
    const rot = await rotateRoot({
      io: repo.io,
      oldRootKeys: [k2, k3],
      newRootKeys: [k1, k2, k3],
      newRootThreshold: 2,
    });
    expect(rot.rootVersion).toBe(3);
    expect((await verify(repo, state)).rootVersion).toBe(3);
  });

  test('rotating the online keys: re-sign with the new keys and clients follow', async () => {
    const repo = await makeRepo();
    await publish(repo, 1);
    const state = tempDir();
    await verify(repo, state);
    const snapshot = generateSigningKey();
    const timestamp = generateSigningKey();
    await rotateRoot({
      io: repo.io,
      oldRootKeys: repo.rootKeys,
      newRootKeys: repo.rootKeys,
      newRootThreshold: 1,
      snapshotKey: snapshot,
      timestampKey: timestamp,
    });
    await expect(resign({ io: repo.io, keys: { snapshot: repo.snapshot, timestamp: repo.timestamp } })).rejects.toThrow(
      /not one of the keys root version 2 trusts for snapshot/,
    );
    await resign({ io: repo.io, keys: { snapshot, timestamp } });
    const v = await verify(repo, state);
    expect(v).toMatchObject({ rootVersion: 2, timestampVersion: 2, targetsVersion: 1 });
  });
});
