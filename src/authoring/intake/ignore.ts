// Which files of a model folder are not artifacts: a default list (VCS data, caches, OS litter) plus the
// folder's own `.modelignore`. The syntax is a subset of .gitignore, refused rather than guessed beyond it:
//   blank lines and `# comments`; `!pattern` re-includes; a trailing `/` matches folders only; a `/` at
//   the start or in the middle anchors the pattern to the folder's top, otherwise it matches a name at any
//   depth; `*` matches within one path segment, `?` one character, `**` any number of segments.
// Not supported (an error names the line): character classes `[...]` and backslash escapes.
// As in git, a file inside an ignored folder cannot be re-included (the folder is never walked).
import { UserError } from '../../lib/errors.ts';

export const MODELIGNORE = '.modelignore';

/**
 * Always skipped. `.model-gitops` is our own state; `training_args.bin` is the Trainer's pickled
 * arguments: not needed to load the model, and unpickling it would run code (trainer.ts never reads it).
 */
export const DEFAULT_IGNORES: readonly string[] = [
  '.git/',
  '.cache/',
  '.gitattributes',
  '__pycache__/',
  '.DS_Store',
  '.model-gitops/',
  '.dvc/',
  MODELIGNORE,
  'training_args.bin',
];

interface Rule {
  negate: boolean;
  dirOnly: boolean;
  re: RegExp;
  source: string;
}

export interface IgnoreMatcher {
  /** Whether `path` ('/'-separated, relative to the folder) is ignored; `dir` when it is a folder. */
  ignores(path: string, dir: boolean): boolean;
  /** The pattern that decided, for notes ("skipped .cache/ (default ignore list)"). */
  reason(path: string, dir: boolean): string | undefined;
}

function segmentRegex(glob: string, file: string, line: number): string {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else if (c === '[' || c === '\\')
      throw new UserError(
        `${file}:${line}: "${c}" is not supported in ${MODELIGNORE} (supported: * ? ** ! / and # comments); write the names out`,
      );
    else out += c.replace(/[.+^${}()|\]]/g, '\\$&');
  }
  return out;
}

function compileRule(raw: string, file: string, line: number, origin: string): Rule | undefined {
  let p = raw.replace(/\s+$/, '');
  if (p === '' || p.startsWith('#')) return undefined;
  const negate = p.startsWith('!');
  if (negate) p = p.slice(1);
  const dirOnly = p.endsWith('/');
  if (dirOnly) p = p.slice(0, -1);
  const anchored = p.includes('/');
  if (p.startsWith('/')) p = p.slice(1);
  if (p === '' || p.split('/').some((s) => s === '' || s === '.' || s === '..'))
    throw new UserError(`${file}:${line}: "${raw}" is not a usable pattern (empty, "." or ".." segments)`);
  const parts = p.split('/').map((seg) => (seg === '**' ? null : segmentRegex(seg, file, line)));
  let body = '';
  parts.forEach((part, i) => {
    const last = i === parts.length - 1;
    if (part === null) body += last ? '.*' : '(?:[^/]+/)*';
    else body += part + (last ? '' : '/');
  });
  // Matching a folder also matches everything below it (for a file re-check after a negation).
  const re = new RegExp(`^${anchored ? '' : '(?:[^/]+/)*'}${body}$`);
  return { negate, dirOnly, re, source: `${raw.trim()} (${origin})` };
}

/** Compile the default list plus `.modelignore` text (may be undefined). Later rules win, as in git. */
export function ignoreMatcher(modelignore?: string, file = MODELIGNORE): IgnoreMatcher {
  const rules: Rule[] = [];
  DEFAULT_IGNORES.forEach((p, i) => rules.push(compileRule(p, 'default ignore list', i + 1, 'default ignore list')!));
  (modelignore ?? '').split(/\r?\n/).forEach((l, i) => {
    const r = compileRule(l, file, i + 1, `${MODELIGNORE}:${i + 1}`);
    if (r) rules.push(r);
  });
  const decide = (path: string, dir: boolean): Rule | undefined => {
    let hit: Rule | undefined;
    for (const r of rules) if ((!r.dirOnly || dir) && r.re.test(path)) hit = r;
    return hit;
  };
  return {
    ignores: (path, dir) => {
      const r = decide(path, dir);
      return r !== undefined && !r.negate;
    },
    reason: (path, dir) => {
      const r = decide(path, dir);
      return r && !r.negate ? r.source : undefined;
    },
  };
}
