// Canonical JSON: object keys sorted by code unit, no insignificant whitespace, so equal data always
// yields equal bytes (and equal sha256). Only JSON values are accepted: no undefined, NaN or Infinity.
export function canonicalJson(value: unknown): string {
  return serialise(value, '');
}

function serialise(v: unknown, path: string): string {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return JSON.stringify(v);
    case 'number':
      if (!Number.isFinite(v)) throw new TypeError(`canonical JSON cannot hold ${v} at ${path || '(root)'}`);
      return JSON.stringify(v);
    case 'object': {
      if (Array.isArray(v)) return `[${v.map((x, i) => serialise(x, `${path}[${i}]`)).join(',')}]`;
      const keys = Object.keys(v as object)
        .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
        .sort();
      return `{${keys.map((k) => `${JSON.stringify(k)}:${serialise((v as Record<string, unknown>)[k], `${path}.${k}`)}`).join(',')}}`;
    }
    default:
      throw new TypeError(`canonical JSON cannot hold a ${typeof v} at ${path || '(root)'}`);
  }
}
