// Deprecation of a version: the card's `deprecated` field in both its forms, the published form the
// manifest carries, and the HTTP headers a gateway adds to answers from a deprecated version
// (Deprecation: RFC 9745, Sunset: RFC 8594, Link rel="successor-version": RFC 5829). Pure.
import { UserError } from '../lib/errors.ts';
import type { DeprecationSpec } from '../registry/types.ts';

export type { DeprecationSpec };

/** What the manifest publishes for a deprecated version: replacement always as model@version. */
export interface ManifestDeprecation {
  since?: string;
  sunset?: string;
  replacement?: string;
  reason?: string;
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A YYYY-MM-DD date as the instant it starts (00:00 UTC); a malformed or impossible date is a UserError. */
export function parseDay(date: string, field: string): Date {
  const m = DATE.exec(date);
  const d = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : undefined;
  if (!d || d.toISOString().slice(0, 10) !== date)
    throw new UserError(`${field} must be a date written YYYY-MM-DD, got ${JSON.stringify(date)}`);
  return d;
}

/**
 * The card's `deprecated` as one shape: `true` is a deprecation with no dates, `false`/absent is none.
 * `replacement` is resolved to model@version against the card's own model name.
 */
export function readDeprecation(
  deprecated: boolean | DeprecationSpec | undefined,
  model: string,
): ManifestDeprecation | undefined {
  if (deprecated === undefined || deprecated === false) return undefined;
  if (deprecated === true) return {};
  const out: ManifestDeprecation = {};
  if (deprecated.since !== undefined) out.since = deprecated.since;
  if (deprecated.sunset !== undefined) out.sunset = deprecated.sunset;
  if (deprecated.replacement !== undefined) out.replacement = qualifiedReplacement(deprecated.replacement, model);
  if (deprecated.reason !== undefined) out.reason = deprecated.reason;
  return out;
}

export function qualifiedReplacement(replacement: string, model: string): string {
  return replacement.includes('@') ? replacement : `${model}@${replacement}`;
}

/** Whether `now` is at or after the sunset date (a version with no sunset never is). */
export function isPastSunset(d: ManifestDeprecation | undefined, now: Date): boolean {
  return d?.sunset !== undefined && now.getTime() >= parseDay(d.sunset, 'deprecated.sunset').getTime();
}

/**
 * Response headers for an answer from a deprecated version. `Deprecation` is an RFC 9745 structured
 * date (`@<unix seconds>`); the boolean form has no date, so it says `@0` (deprecated since a date in
 * the past, which is all the boolean says). `Link` points at the replacement's model resource.
 */
export function deprecationHeaders(d: ManifestDeprecation | undefined): Record<string, string> {
  if (!d) return {};
  const since = d.since === undefined ? 0 : parseDay(d.since, 'deprecation.since').getTime() / 1000;
  const out: Record<string, string> = { deprecation: `@${since}` };
  if (d.sunset !== undefined) out.sunset = parseDay(d.sunset, 'deprecation.sunset').toUTCString();
  if (d.replacement !== undefined) {
    const at = d.replacement.lastIndexOf('@');
    const path = `/v1/models/${encodeURIComponent(d.replacement.slice(0, at))}?version=${encodeURIComponent(d.replacement.slice(at + 1))}`;
    out.link = `<${path}>; rel="successor-version"`;
  }
  return out;
}

/** One line for people (device status, CLI): "deprecated since …, sunset …, use …". */
export function describeDeprecation(d: ManifestDeprecation, now?: Date): string {
  const parts = ['deprecated'];
  if (d.since) parts.push(`since ${d.since}`);
  if (d.sunset) parts.push(`${now && isPastSunset(d, now) ? 'sunset passed on' : 'sunset'} ${d.sunset}`);
  if (d.replacement) parts.push(`use ${d.replacement}`);
  let s = parts.join(', ');
  if (d.reason) s += ` (${d.reason})`;
  return s;
}
