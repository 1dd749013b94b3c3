// `model-gitops publish`, `resign` and `history`: the publisher's side of the signed manifest.
// Exit codes: 0 published / unchanged / superseded / re-signed; 1 registry errors or referenced blobs
// missing (nothing published); 2 usage, keys or store errors; 75 other publishers kept winning.
import { resolve } from 'node:path';
import { UserError } from '../lib/errors.ts';
import { resolveCommit } from '../registry/git-source.ts';
import { formatChanges, parseDuration, publicationHistory, publishRegistry, resignStore } from '../publish/index.ts';
import { loadPublishKeys } from '../trust/role-keys.ts';
import { EXIT } from '../lib/exit-codes.ts';
import { type Command, parseCommandArgs } from './command.ts';
import { printJson, table } from './output.ts';
import { keysDirOf, openCommandStore, sourceRepository } from './trust-common.ts';

const publishUsage =
  'model-gitops publish [--store URL] [--repo DIR] [--keys-dir DIR] [--source-repo owner/name] [--commit SHA] [--expires-in 7d] [--recover] [--json]';

export const publishCommand: Command = {
  usage: publishUsage,
  async run(argv) {
    const { values } = parseCommandArgs(
      argv,
      {
        store: { type: 'string' },
        repo: { type: 'string', default: '.' },
        'keys-dir': { type: 'string' },
        'source-repo': { type: 'string' },
        commit: { type: 'string', default: 'HEAD' },
        'expires-in': { type: 'string', default: '7d' },
        recover: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
      },
      publishUsage,
    );
    if (values.help) {
      console.log(`usage: ${publishUsage}`);
      return EXIT.ok;
    }
    const repo = resolve(values.repo);
    const expiresIn = parseDuration(values['expires-in']);
    const keys = loadPublishKeys(keysDirOf(values['keys-dir'], repo));
    const store = openCommandStore(values.store, repo);
    const commit = resolveCommit(repo, values.commit);
    const log = (s: string) => {
      if (!values.json) process.stderr.write(`${s}\n`);
    };
    const r = await publishRegistry({
      repo,
      store,
      keys,
      expiresIn,
      recoverOrphans: values.recover,
      source: { repository: sourceRepository(values['source-repo'], repo), commit },
      onEvent: (e) => {
        if (e.type === 'validated')
          log(`registry valid: ${e.models} models, ${e.versions} versions, ${e.environments} environments`);
        else if (e.type === 'verified')
          log(`store holds all ${e.blobs} referenced blobs (${e.indexed} with tensor indexes)`);
        else if (e.type === 'claimed') log(`claimed sequence ${e.sequence}`);
        else if (e.type === 'claim-lost')
          log(`sequence ${e.sequence} was claimed by another publisher; taking the next`);
        else if (e.type === 'retry') log(`retrying (attempt ${e.attempt}): ${e.reason}`);
      },
    });
    if (values.json) {
      printJson({ ...r, store: store.url });
      return EXIT.ok;
    }
    console.log(r.message);
    if (r.status === 'published') {
      console.log(
        `sequence ${r.sequence}  sha256 ${r.sha256}  ${r.length} bytes  expires ${r.expiresAt}  store ${store.url}`,
      );
      for (const l of formatChanges(r.changes)) console.log(l);
    }
    return EXIT.ok;
  },
};

const resignUsage =
  'model-gitops resign [--store URL] [--repo DIR] [--keys-dir DIR] [--expires-in 7d] [--recover] [--json]';

export const resignCommand: Command = {
  usage: resignUsage,
  async run(argv) {
    const { values } = parseCommandArgs(
      argv,
      {
        store: { type: 'string' },
        repo: { type: 'string', default: '.' },
        'keys-dir': { type: 'string' },
        'expires-in': { type: 'string', default: '7d' },
        recover: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
      },
      resignUsage,
    );
    if (values.help) {
      console.log(`usage: ${resignUsage}`);
      return EXIT.ok;
    }
    const repo = resolve(values.repo);
    const keys = loadPublishKeys(keysDirOf(values['keys-dir'], repo));
    const store = openCommandStore(values.store, repo);
    const r = await resignStore({
      store,
      keys,
      expiresIn: parseDuration(values['expires-in']),
      recoverOrphans: values.recover,
    });
    if (values.json) {
      printJson({ store: store.url, ...r });
      return EXIT.ok;
    }
    console.log(
      `re-signed sequence ${r.sequence ?? '?'} (manifest sha256 ${r.sha256 ?? '?'} unchanged): timestamp version ${r.timestampVersion}, snapshot ${r.snapshotVersion}, targets ${r.targetsVersion}${r.targetsRenewed ? ' (renewed)' : ''}`,
    );
    console.log(
      `expires: timestamp ${r.expires.timestamp}, snapshot ${r.expires.snapshot}, targets ${r.expires.targets}`,
    );
    return EXIT.ok;
  },
};

const historyUsage = 'model-gitops history [--store URL] [--repo DIR] [--json]';

export const historyCommand: Command = {
  usage: historyUsage,
  async run(argv) {
    const { values } = parseCommandArgs(
      argv,
      { store: { type: 'string' }, repo: { type: 'string', default: '.' }, json: { type: 'boolean', default: false } },
      historyUsage,
    );
    if (values.help) {
      console.log(`usage: ${historyUsage}`);
      return EXIT.ok;
    }
    const store = openCommandStore(values.store, resolve(values.repo));
    const h = await publicationHistory(store);
    if (values.json) {
      printJson({ store: store.url, entries: h });
      return EXIT.ok;
    }
    if (h.length === 0) {
      console.log(`nothing published in ${store.url} yet`);
      return EXIT.ok;
    }
    const rows = [['SEQ', 'PUBLISHED', 'COMMIT', 'STATE', 'CHANGES']];
    for (const e of h) {
      const changes =
        e.problem ??
        (e.changes.length
          ? e.changes
              .map(
                (c) =>
                  `${c.environment}${c.status === 'changed' ? '' : ` (${c.status})`}: ${c.changes.map((x) => `${x.model} ${x.before ?? '-'} -> ${x.after ?? '-'}`).join('; ')}`,
              )
              .join(' | ')
          : 'no deployment changes');
      rows.push([
        String(e.sequence),
        e.publishedAt ?? '?',
        e.source?.commit.slice(0, 12) ?? '?',
        e.current ? 'current' : e.signed ? 'signed' : 'unsigned',
        changes,
      ]);
    }
    console.log(table(rows));
    if (h.some((e) => !e.signed))
      console.log(
        '\nunsigned: claimed by a publish that crashed or found a newer publication; never served to devices',
      );
    return EXIT.ok;
  },
};
