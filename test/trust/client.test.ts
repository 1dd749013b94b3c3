// The device side against real metadata: happy paths over a folder and over HTTP, and each attack
// The Update Framework lists, attempted and refused with a specific reason.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MetadataKind } from '@tufjs/models';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { fetchVerifiedManifest } from '../../src/trust/client.ts';
import { generateSigningKey } from '../../src/trust/keys.ts';
import { publishManifest, resign } from '../../src/trust/repository.ts';
import { tempDir } from '../helpers.ts';
import {
  craft,
  DAY_MS,
  expectRefused,
  file,
  makeRepo,
  manifestOf,
  overwrite,
  publish,
  readMeta,
  serveFolder,
  sha256Hex,
  verify,
  type FolderServer,
} from './helpers.ts';

describe('happy path', () => {
  test('folder source: verifies the manifest and remembers the trusted state', async () => {
    const repo = await makeRepo();
    const pub = await publish(repo, 1);
    const state = tempDir('mg-trust-state-');
    const r = await verify(repo, state);
    expect(r.manifestBytes.equals(manifestOf(1))).toBe(true);
    expect(r.manifest).toEqual(JSON.parse(manifestOf(1).toString()));
    expect(r).toMatchObject({
      sha256: pub.sha256,
      length: pub.length,
      targetsVersion: 1,
      snapshotVersion: 1,
      timestampVersion: 1,
      rootVersion: 1,
      rebootstrapped: false,
    });
    expect(new Date(r.expires).getTime()).toBeGreaterThan(Date.now());
    for (const f of ['root.json', 'timestamp.json', 'snapshot.json', 'targets.json'])
      expect(readFileSync(join(state, f)).length).toBeGreaterThan(0);

    // State files are replaced by rename (a new inode), never rewritten in place, and no temp file is left.
    const inode = statSync(join(state, 'timestamp.json')).ino;
    await publish(repo, 2);
    const r2 = await verify(repo, state);
    expect(r2.manifestBytes.equals(manifestOf(2))).toBe(true);
    expect(r2.targetsVersion).toBe(2);
    expect(statSync(join(state, 'timestamp.json')).ino).not.toBe(inode);
    expect(readdirSync(state).sort()).toEqual(['root.json', 'snapshot.json', 'targets.json', 'timestamp.json']);
  });

  test('HTTP source: a real server on 127.0.0.1', async () => {
    const repo = await makeRepo();
    await publish(repo, 1);
    await publish(repo, 2);
    const server = await serveFolder(repo.dir);
    try {
      const r = await verify(repo, tempDir('mg-trust-state-'), server.url);
      expect(r.manifestBytes.equals(manifestOf(2))).toBe(true);
      expect(r.targetsVersion).toBe(2);
      expect(server.hits).toContain('/metadata/timestamp.json');
      expect(server.hits).toContain('/metadata/2.snapshot.json');
      expect(server.hits).toContain(`/targets/${sha256Hex(manifestOf(2))}.manifest.json`);
    } finally {
      await server.close();
    }
  });

  test('nothing published yet: a clear not-found', async () => {
    const repo = await makeRepo();
    await expectRefused(
      verify(repo, tempDir()),
      'not-found',
      /metadata\/timestamp\.json .*missing.*nothing has been published/,
    );
  });
});

describe('attacks', () => {
  test('tampered manifest bytes (same length) are refused', async () => {
    const repo = await makeRepo();
    const pub = await publish(repo, 1);
    const key = `targets/${pub.sha256}.manifest.json`;
    overwrite(repo, key, file(repo, key).toString().replace('1.0.1', '6.6.6'));
    await expectRefused(
      verify(repo, tempDir()),
      'tampered',
      /manifest\.json.*vouches for .* \(tampered or corrupted\)/,
    );
  });

  test('a manifest larger than its recorded length is cut off (endless data)', async () => {
    const repo = await makeRepo();
    const pub = await publish(repo, 1);
    const key = `targets/${pub.sha256}.manifest.json`;
    overwrite(repo, key, Buffer.concat([file(repo, key), Buffer.alloc(1_000_000, 0x20)]));
    await expectRefused(
      verify(repo, tempDir()),
      'endless-data',
      new RegExp(`${key} .*larger than the ${pub.length} bytes`),
    );
  });

  test('tampered targets.json is refused (hash recorded by snapshot)', async () => {
    const repo = await makeRepo();
    await publish(repo, 1);
    const t = readMeta(repo, MetadataKind.Targets, 'metadata/1.targets.json');
    overwrite(
      repo,
      'metadata/1.targets.json',
      craft(MetadataKind.Targets, t, (s) => {
        (s['targets'] as Record<string, { length: number }>)['manifest.json']!.length += 1;
      }),
    );
    await expectRefused(
      verify(repo, tempDir()),
      'tampered',
      /1\.targets\.json.*do not match the hash and length snapshot recorded/,
    );
  });

  test('tampered targets.json with a compromised online key is refused (bad signature)', async () => {
    // The attacker holds the snapshot and timestamp keys (online, CI) but not the targets key: it rewrites
    // targets to vouch for its own manifest and re-signs snapshot and timestamp so the hashes line up.
    const repo = await makeRepo();
    await publish(repo, 1);
    const evil = Buffer.from('{"evil":true}');
    overwrite(repo, `targets/${sha256Hex(evil)}.manifest.json`, evil);
    const t = readMeta(repo, MetadataKind.Targets, 'metadata/1.targets.json');
    const targets = craft(MetadataKind.Targets, t, (s) => {
      s['version'] = 2;
      s['targets'] = { 'manifest.json': { length: evil.length, hashes: { sha256: sha256Hex(evil) } } };
    }); // keeps the real targets signature, which no longer matches
    overwrite(repo, 'metadata/2.targets.json', targets);
    const sn = readMeta(repo, MetadataKind.Snapshot, 'metadata/1.snapshot.json');
    const snapshot = craft(
      MetadataKind.Snapshot,
      sn,
      (s) => {
        s['version'] = 2;
        s['meta'] = { 'targets.json': { version: 2, length: targets.length, hashes: { sha256: sha256Hex(targets) } } };
      },
      [repo.snapshot],
    );
    overwrite(repo, 'metadata/2.snapshot.json', snapshot);
    const ts = readMeta(repo, MetadataKind.Timestamp, 'metadata/timestamp.json');
    overwrite(
      repo,
      'metadata/timestamp.json',
      craft(
        MetadataKind.Timestamp,
        ts,
        (s) => {
          s['version'] = 2;
          s['meta'] = {
            'snapshot.json': { version: 2, length: snapshot.length, hashes: { sha256: sha256Hex(snapshot) } },
          };
        },
        [repo.timestamp],
      ),
    );
    await expectRefused(
      verify(repo, tempDir()),
      'tampered',
      /2\.targets\.json.*targets is signed by 0 of the 1 .*a signature by a trusted key does not match the content/,
    );

    // The same, signed by a key of the attacker's own: unknown key.
    const intruder = generateSigningKey();
    const t2 = readMeta(repo, MetadataKind.Targets, 'metadata/2.targets.json');
    const targets2 = craft(MetadataKind.Targets, t2, () => undefined, [intruder]);
    overwrite(repo, 'metadata/2.targets.json', targets2);
    overwrite(
      repo,
      'metadata/2.snapshot.json',
      craft(
        MetadataKind.Snapshot,
        readMeta(repo, MetadataKind.Snapshot, 'metadata/2.snapshot.json'),
        (s) => {
          s['meta'] = {
            'targets.json': { version: 2, length: targets2.length, hashes: { sha256: sha256Hex(targets2) } },
          };
        },
        [repo.snapshot],
      ),
    );
    const snapshot2 = file(repo, 'metadata/2.snapshot.json');
    overwrite(
      repo,
      'metadata/timestamp.json',
      craft(
        MetadataKind.Timestamp,
        readMeta(repo, MetadataKind.Timestamp, 'metadata/timestamp.json'),
        (s) => {
          s['version'] = 3;
          s['meta'] = {
            'snapshot.json': { version: 2, length: snapshot2.length, hashes: { sha256: sha256Hex(snapshot2) } },
          };
        },
        [repo.timestamp],
      ),
    );
    await expectRefused(
      verify(repo, tempDir()),
      'unsigned',
      /2\.targets\.json.*no valid signature by a key the trusted root lists for targets/,
    );
  });

  test('a timestamp signed by an unknown key is refused', async () => {
    const repo = await makeRepo();
    await publish(repo, 1);
    const ts = readMeta(repo, MetadataKind.Timestamp, 'metadata/timestamp.json');
    overwrite(
      repo,
      'metadata/timestamp.json',
      craft(
        MetadataKind.Timestamp,
        ts,
        (s) => {
          s['version'] = 5;
        },
        [generateSigningKey()],
      ),
    );
    await expectRefused(verify(repo, tempDir()), 'unsigned', /timestamp\.json.*timestamp is signed by 0 of the 1/);
  });

  test('rollback: an older timestamp after a newer one was seen', async () => {
    const repo = await makeRepo();
    await publish(repo, 1);
    const oldTimestamp = file(repo, 'metadata/timestamp.json');
    await publish(repo, 2);
    const state = tempDir();
    expect((await verify(repo, state)).targetsVersion).toBe(2);
    overwrite(repo, 'metadata/timestamp.json', oldTimestamp);
    await expectRefused(
      verify(repo, state),
      'rollback',
      /metadata\/timestamp\.json.*goes back to older metadata than this device already trusts.*timestamp version 1 is less than current version 2.*rollback attack/,
    );
    // A fresh device, with no memory, cannot tell; this is why the state folder must persist.
    expect((await verify(repo, tempDir())).targetsVersion).toBe(1);
  });

  test('rollback: a new timestamp (compromised timestamp key) pointing at an older snapshot', async () => {
    const repo = await makeRepo();
    await publish(repo, 1);
    await publish(repo, 2);
    const state = tempDir();
    await verify(repo, state);
    const snapshot1 = file(repo, 'metadata/1.snapshot.json');
    overwrite(
      repo,
      'metadata/timestamp.json',
      craft(
        MetadataKind.Timestamp,
        readMeta(repo, MetadataKind.Timestamp, 'metadata/timestamp.json'),
        (s) => {
          s['version'] = 3;
          s['meta'] = {
            'snapshot.json': { version: 1, length: snapshot1.length, hashes: { sha256: sha256Hex(snapshot1) } },
          };
        },
        [repo.timestamp],
      ),
    );
    await expectRefused(verify(repo, state), 'rollback', /snapshot version 1 is less than current version 2/);
  });

  test('freeze: expired timestamp is refused', async () => {
    const repo = await makeRepo();
    await publish(repo, 1, new Date(Date.now() - 3 * DAY_MS)); // timestamp lives 1 day: expired 2 days ago
    await expectRefused(
      verify(repo, tempDir()),
      'freeze',
      /metadata\/timestamp\.json from .*: it expired at \d{4}-.*freeze attack/,
    );
  });

  test('freeze: expired targets behind a fresh timestamp and snapshot is refused', async () => {
    const repo = await makeRepo();
    const past = new Date(Date.now() - 10 * DAY_MS);
    await publishManifest({ io: repo.io, manifestBytes: manifestOf(1), keys: repo.keys, now: past });
    // Re-sign only the online roles: targets (7 days) stays expired.
    await resign({
      io: repo.io,
      keys: { snapshot: repo.snapshot, timestamp: repo.timestamp },
      renewTargetsWithin: -1e9,
    });
    await expectRefused(
      verify(repo, tempDir()),
      'freeze',
      /metadata\/1\.targets\.json from .*: it expired at \d{4}-.*freeze attack/,
    );
  });

  test("mix-and-match: the snapshot file served is another publication's", async () => {
    const repo = await makeRepo();
    await publish(repo, 1);
    await publish(repo, 2);
    overwrite(repo, 'metadata/2.snapshot.json', file(repo, 'metadata/1.snapshot.json'));
    await expectRefused(
      verify(repo, tempDir()),
      'mix-and-match',
      /2\.snapshot\.json.*timestamp names snapshot version 2 but the repository served version 1 \(mix-and-match/,
    );
  });

  test("mix-and-match: the targets file served is another publication's", async () => {
    const repo = await makeRepo();
    await publish(repo, 1);
    await publish(repo, 2);
    overwrite(repo, 'metadata/2.targets.json', file(repo, 'metadata/1.targets.json'));
    await expectRefused(
      verify(repo, tempDir()),
      'mix-and-match',
      /2\.targets\.json.*snapshot names targets version 2 but the repository served version 1/,
    );
  });

  test('mix-and-match: a timestamp pointing at a snapshot that lists a different targets version', async () => {
    // Snapshot metadata without hashes (as other TUF publishers may write it) leaves only the version check.
    const repo = await makeRepo();
    await publish(repo, 1);
    await publish(repo, 2);
    const snapshot = craft(
      MetadataKind.Snapshot,
      readMeta(repo, MetadataKind.Snapshot, 'metadata/2.snapshot.json'),
      (s) => {
        s['version'] = 3;
        s['meta'] = { 'targets.json': { version: 2 } };
      },
      [repo.snapshot],
    );
    overwrite(repo, 'metadata/3.snapshot.json', snapshot);
    overwrite(
      repo,
      'metadata/timestamp.json',
      craft(
        MetadataKind.Timestamp,
        readMeta(repo, MetadataKind.Timestamp, 'metadata/timestamp.json'),
        (s) => {
          s['version'] = 3;
          s['meta'] = {
            'snapshot.json': { version: 3, length: snapshot.length, hashes: { sha256: sha256Hex(snapshot) } },
          };
        },
        [repo.timestamp],
      ),
    );
    overwrite(repo, 'metadata/2.targets.json', file(repo, 'metadata/1.targets.json'));
    await expectRefused(
      verify(repo, tempDir()),
      'mix-and-match',
      /2\.targets\.json.*Version 1 of targets does not match snapshot version 2.*mix-and-match/,
    );
  });

  test('endless data: a huge timestamp.json (folder)', async () => {
    const repo = await makeRepo();
    await publish(repo, 1);
    const ts = file(repo, 'metadata/timestamp.json').toString();
    overwrite(repo, 'metadata/timestamp.json', ts.replace('{', `{"padding":"${'x'.repeat(200_000)}",`));
    await expectRefused(
      verify(repo, tempDir()),
      'endless-data',
      /metadata\/timestamp\.json .*larger than the 16384 bytes/,
    );
  });

  describe('over HTTP', () => {
    let server: FolderServer;
    let repo: Awaited<ReturnType<typeof makeRepo>>;
    beforeAll(async () => {
      repo = await makeRepo();
      await publish(repo, 1);
      server = await serveFolder(repo.dir);
    });
    afterAll(() => server.close());

    test('endless data: a timestamp.json that never ends', async () => {
      server.overrides.set('/metadata/timestamp.json', (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        const pump = (): void => {
          while (res.write(chunk)) {
            /* until the buffer is full */
          }
        };
        res.on('drain', pump);
        res.on('close', () => res.off('drain', pump));
        pump();
      });
      try {
        await expectRefused(
          verify(repo, tempDir(), server.url),
          'endless-data',
          /metadata\/timestamp\.json from http:\/\/127\.0\.0\.1:\d+\/: it is larger than the 16384 bytes/,
        );
      } finally {
        server.overrides.delete('/metadata/timestamp.json');
      }
    });

    test('endless data: a declared Content-Length over the cap is refused before reading', async () => {
      const key = `/targets/${sha256Hex(manifestOf(1))}.manifest.json`;
      server.overrides.set(key, (_req, res) => {
        res.writeHead(200, { 'content-length': String(10 * 1024 * 1024 * 1024) });
        res.write('{');
      });
      try {
        await expectRefused(verify(repo, tempDir(), server.url), 'endless-data', /manifest\.json .*larger than/);
      } finally {
        server.overrides.delete(key);
      }
    });

    test('a server error is "unavailable", not an attack', async () => {
      server.overrides.set('/metadata/timestamp.json', (_req, res) => {
        res.writeHead(503).end('busy');
      });
      try {
        await expectRefused(
          verify(repo, tempDir(), server.url),
          'unavailable',
          /cannot fetch metadata\/timestamp\.json .*HTTP 503/,
        );
      } finally {
        server.overrides.delete('/metadata/timestamp.json');
      }
    });
  });

  test('the pinned root must itself be valid', async () => {
    const repo = await makeRepo({ rootCount: 3, rootThreshold: 2 });
    await publish(repo, 1);
    const root = readMeta(repo, MetadataKind.Root, 'metadata/1.root.json');
    const oneSig = craft(MetadataKind.Root, root, () => undefined, [repo.rootKeys[0]!]);
    await expectRefused(
      fetchVerifiedManifest({ trustedRoot: oneSig, stateDir: tempDir(), source: repo.dir }),
      'invalid-root',
      /pinned trusted root is not valid.*signed by 1\/2 keys/,
    );
    await expectRefused(
      fetchVerifiedManifest({ trustedRoot: 'not json', stateDir: tempDir(), source: repo.dir }),
      'invalid-root',
      /pinned trusted root/,
    );
  });
});

describe('local trusted state', () => {
  test('corrupt or half-written state files: re-bootstrap from the pinned root and succeed', async () => {
    const repo = await makeRepo();
    await publish(repo, 1);
    const state = tempDir();
    await verify(repo, state);
    await publish(repo, 2);
    writeFileSync(join(state, 'root.json'), readFileSync(join(state, 'root.json')).subarray(0, 100)); // half-written
    writeFileSync(join(state, 'timestamp.json'), '');
    writeFileSync(join(state, 'snapshot.json'), '{"signed": 42}');
    writeFileSync(join(state, 'targets.json'), Buffer.from([0xff, 0xfe, 0x00]));
    const r = await verify(repo, state);
    expect(r).toMatchObject({ targetsVersion: 2, rebootstrapped: true });
    expect(r.manifestBytes.equals(manifestOf(2))).toBe(true);
    // The state is whole again, and the next run starts from it.
    expect(readFileSync(join(state, 'root.json')).equals(repo.rootBytes)).toBe(true);
    for (const f of ['timestamp.json', 'snapshot.json', 'targets.json'])
      expect(() => JSON.parse(readFileSync(join(state, f), 'utf8'))).not.toThrow();
    expect((await verify(repo, state)).rebootstrapped).toBe(false);
  });

  test('a failed verification keeps the last good state (the device can still prove rollback later)', async () => {
    const repo = await makeRepo();
    await publish(repo, 1);
    const v1 = file(repo, 'metadata/timestamp.json');
    await publish(repo, 2);
    const state = tempDir();
    await verify(repo, state);
    const before = readFileSync(join(state, 'timestamp.json'));
    overwrite(repo, 'metadata/timestamp.json', v1);
    await expectRefused(verify(repo, state), 'rollback', /rollback/);
    expect(readFileSync(join(state, 'timestamp.json')).equals(before)).toBe(true);
  });
});
