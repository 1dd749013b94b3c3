// HTML for the registry site: one escaping rule for every string that came from a card, an environment
// file, git or the store (a card's summary is text a contributor wrote, never markup), and one page layout
// with a strict Content-Security-Policy: no inline script or style, nothing loaded from another origin, so
// the pages work the same from file://, a local server and GitHub Pages.

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for element content and quoted attribute values alike. */
export function esc(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** A marked string: already HTML. Only the builders in this folder make one. */
export interface Html {
  readonly html: string;
}
export const raw = (html: string): Html => ({ html });

/** Tagged template: interpolations are escaped unless they are Html (or arrays of Html). */
export function h(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1]!;
  return { html: out };
}

function render(v: unknown): string {
  if (v === undefined || v === null || v === false) return '';
  if (Array.isArray(v)) return v.map(render).join('');
  if (typeof v === 'object' && 'html' in (v as object)) return (v as Html).html;
  return esc(v);
}

export const join = (parts: Html[], sep = ''): Html => raw(parts.map((p) => p.html).join(sep));

/**
 * A link target only when it is http(s): card fields such as a dataset uri may hold s3://, or a
 * `javascript:` URL from a hostile card, which must stay text.
 */
export function safeHttpUrl(u: string | undefined): string | undefined {
  if (!u) return undefined;
  try {
    const p = new URL(u);
    return p.protocol === 'https:' || p.protocol === 'http:' ? p.href : undefined;
  } catch {
    return undefined;
  }
}

/** Paths inside the site, always relative so the same files work from file:// and under any Pages base path. */
export const sitePaths = {
  index: 'index.html',
  model: (model: string) => `models/${encodeURIComponent(model)}/index.html`,
  version: (model: string, version: string) =>
    `models/${encodeURIComponent(model)}/${encodeURIComponent(version)}.html`,
  environment: (env: string) => `environments/${encodeURIComponent(env)}.html`,
  css: 'assets/site.css',
  js: 'assets/search.js',
  icon: 'assets/favicon.svg',
};

/** The file a site path is written to (the URL form decoded: `1.0.0+build.1` is a file name with a '+'). */
export const fileOf = (sitePath: string): string => sitePath.split('/').map(decodeURIComponent).join('/');

/** `../` repeated to go from a page back to the site root. */
export function rootOf(pagePath: string): string {
  const depth = pagePath.split('/').length - 1;
  return depth === 0 ? '' : '../'.repeat(depth);
}

// No frame-ancestors: a <meta> CSP ignores it and Chromium logs an error saying so.
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'";

export interface PageSpec {
  /** This page's site path (decides the relative root). */
  path: string;
  title: string;
  /** Breadcrumbs after "Registry": [label, site path | undefined for the current page]. */
  crumbs: [string, string | undefined][];
  body: Html;
  /** Registry identity shown in the footer. */
  footer: Html;
  script?: boolean;
}

export function page(spec: PageSpec): string {
  const root = rootOf(spec.path);
  const crumbs = [
    h`<a href="${root}${sitePaths.index}">Registry</a>`,
    ...spec.crumbs.map(([label, target]) =>
      target === undefined ? h`<span aria-current="page">${label}</span>` : h`<a href="${root}${target}">${label}</a>`,
    ),
  ];
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<meta name="referrer" content="no-referrer">
<title>${esc(spec.title)} · model registry</title>
<link rel="stylesheet" href="${root}${sitePaths.css}">
<link rel="icon" href="${root}${sitePaths.icon}" type="image/svg+xml">
${spec.script ? `<script src="${root}${sitePaths.js}" defer></script>\n` : ''}</head>
<body>
<header class="top"><nav aria-label="Breadcrumb">${join(crumbs, ' <span aria-hidden="true">/</span> ').html}</nav></header>
<main id="main">
${spec.body.html}
</main>
<footer>${spec.footer.html}</footer>
</body>
</html>
`;
}
