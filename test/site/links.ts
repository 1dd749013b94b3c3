// Reads a built site from disk: every page, and every internal link (href/src) with whether its target
// file, and the element its #fragment names, exist.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

export function sitePages(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.html')) out.push(relative(root, p));
    }
  };
  walk(root);
  return out.sort();
}

const unescape = (s: string) =>
  s.replace(/&(amp|lt|gt|quot|#39);/g, (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[e]!);

/** Internal links that do not resolve, as "page -> target (why)". `checked` counts the internal links seen. */
export function brokenLinks(root: string): { broken: string[]; checked: number } {
  const pages = sitePages(root);
  const ids = new Map<string, Set<string>>();
  const text = new Map(pages.map((p) => [p, readFileSync(join(root, p), 'utf8')]));
  for (const [p, t] of text) ids.set(p, new Set([...t.matchAll(/\sid="([^"]+)"/g)].map((m) => unescape(m[1]!))));
  const broken: string[] = [];
  let checked = 0;
  for (const [p, t] of text) {
    for (const m of t.matchAll(/\s(?:href|src)="([^"]*)"/g)) {
      const link = unescape(m[1]!);
      if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // http(s): external, not ours to resolve
      if (link.startsWith('url(')) continue;
      checked++;
      const [pathPart, frag] = link.split('#') as [string, string | undefined];
      const target =
        pathPart === ''
          ? p
          : relative(root, resolve(dirname(join(root, p)), decodeURIComponent(pathPart.split('?')[0]!)));
      if (target.startsWith('..')) {
        broken.push(`${p} -> ${link} (outside the site)`);
        continue;
      }
      let exists = text.has(target);
      if (!exists) {
        try {
          readFileSync(join(root, target));
          exists = true;
        } catch {
          exists = false;
        }
      }
      if (!exists) broken.push(`${p} -> ${link} (no file ${target})`);
      else if (frag && target.endsWith('.html') && !ids.get(target)?.has(decodeURIComponent(frag)))
        broken.push(`${p} -> ${link} (no #${frag} in ${target})`);
    }
  }
  return { broken, checked };
}
