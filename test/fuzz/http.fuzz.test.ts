// Fuzz target: the gateway's HTTP request parsing and handling (node:http's parser under the limits
// of src/gateway/http.ts, then the routes), over raw loopback sockets, against a gateway serving the
// demo model. Inputs: generated raw requests (methods, targets, versions, header names and values
// with control characters and huge values within a bound, Content-Length matching, short, long or
// bogus, chunked bodies well and badly framed, both framings at once, JSON and non-JSON bodies,
// bodies over the limit, writes split in pieces, a half-close after the request or not), and the
// corpus in test/fixtures/fuzz/http/ (raw requests, replayed first; crash-* are inputs that once made
// the gateway misbehave, kept as regression inputs).
// Property: every request gets well-formed HTTP responses whose statuses are answers the gateway
// gives on purpose (never a 5xx from a bug), or a clean close; nothing is logged as an internal
// error; no request hangs past the limits; and the gateway still serves a normal request afterwards.
import { readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { type Socket, connect } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FolderVersionSource, type Gateway, createGateway } from '../../src/gateway/index.ts';
import type { HttpLimits } from '../../src/gateway/http.ts';
import { demoManifest, demoWeightsDir } from '../gateway/helpers.ts';
import { fuzzParameters, fuzzTimeout } from './budget.ts';

const CORPUS = new URL('../fixtures/fuzz/http/', import.meta.url).pathname;
const M = 'intent-classifier';
/** Runs in `npm test`, measured at about 10 s on a 2-core machine (most requests take 1-5 ms; those
 * left hanging on purpose wait for a timeout of 150-400 ms). */
const RUNS = 1200;
/** Small limits, so a request left hanging on purpose is cut quickly; the body limit is small enough
 * for generated bodies to pass it. */
const LIMITS: Partial<HttpLimits> = {
  headersTimeoutMs: 300,
  bodyTimeoutMs: 150,
  requestTimeoutMs: 400,
  keepAliveTimeoutMs: 100,
  idleTimeoutMs: 2_000,
  lingerMs: 100,
  maxBodyBytes: 16 * 1024,
};
/** Longest a request may go without an answer or a close: every limit above, with ample slack. */
const HANG_MS = 3_000;
/** After a complete response, this much silence ends the exchange (the connection may stay open). */
const QUIET_MS = 15;

/** Statuses the gateway (or node:http's parser, on its behalf) answers on purpose. */
const EXPECTED = new Set([100, 200, 400, 404, 405, 408, 411, 413, 414, 415, 417, 431, 501, 503, 505]);

let gw: Gateway;
let port: number;
const logged: string[] = [];
let cases = 0;
let started = 0;
/** How the exchanges ended, by first status (or "closed"), printed at the end. */
const seen = new Map<string, number>();

beforeAll(async () => {
  gw = createGateway({
    environment: 'production',
    source: new FolderVersionSource(demoWeightsDir()),
    log: (line) => logged.push(line),
  });
  await gw.applyManifest(demoManifest({ [M]: { version: '2.0.0', canary: { version: '2.1.0', weight: 20 } } }));
  port = (await gw.listen(0, '127.0.0.1', LIMITS)).port;
  started = performance.now();
});

afterAll(async () => {
  const s = (performance.now() - started) / 1000;
  const outcomes = [...seen].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k}: ${n}`);
  console.log(
    `http fuzz: ${cases} raw requests in ${s.toFixed(1)} s (${(cases / s).toFixed(0)}/s); ${outcomes.join(', ')}`,
  );
  await gw?.close();
});

// ---- one exchange -----------------------------------------------------------------------------------

interface Exchange {
  /** Everything the server sent. */
  data: Buffer;
  /** Who ended it: the server (closed or reset), or us after a complete response and QUIET_MS of silence. */
  end: 'server' | 'quiet' | 'hang';
  error?: string;
}

/** Sends `pieces` (a few ms apart) on a fresh connection, optionally half-closes, and collects the answer. */
function exchange(pieces: Buffer[], fin: boolean, firstIsHead: boolean): Promise<Exchange> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let done = false;
    let error: string | undefined;
    let quiet: NodeJS.Timeout | undefined;
    const s: Socket = connect(port, '127.0.0.1');
    const finish = (end: Exchange['end']) => {
      if (done) return;
      done = true;
      clearTimeout(hang);
      clearTimeout(quiet);
      s.destroy();
      resolve({ data: Buffer.concat(chunks), end, ...(error ? { error } : {}) });
    };
    const hang = setTimeout(() => finish('hang'), HANG_MS);
    s.on('data', (c: Buffer) => {
      chunks.push(c);
      clearTimeout(quiet);
      const r = parseResponses(Buffer.concat(chunks), firstIsHead);
      if (r.responses.some((x) => x.status >= 200) && r.rest.length === 0)
        quiet = setTimeout(() => finish('quiet'), QUIET_MS);
    });
    s.on('error', (e: NodeJS.ErrnoException) => {
      error = e.code ?? e.message;
    });
    s.on('close', () => finish('server'));
    s.on('connect', async () => {
      for (let i = 0; i < pieces.length && !done; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 2));
        if (!s.writable) break;
        s.write(pieces[i]!);
      }
      if (fin && s.writable) s.end();
    });
  });
}

interface Response {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** Parses a server's byte stream into responses; `rest` is what does not form a complete one. Throws
 * on anything that is not HTTP/1.1 response syntax. */
function parseResponses(data: Buffer, firstIsHead: boolean): { responses: Response[]; rest: Buffer } {
  const responses: Response[] = [];
  let at = 0;
  while (at < data.length) {
    const headEnd = data.indexOf('\r\n\r\n', at, 'latin1');
    if (headEnd < 0) break;
    const [statusLine, ...lines] = data.subarray(at, headEnd).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3}) [^\r\n]*$/.exec(statusLine!);
    if (!m) throw new Error(`not an HTTP status line: ${JSON.stringify(statusLine)}`);
    const headers: Record<string, string> = {};
    for (const l of lines) {
      const hm = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+): ?(.*)$/.exec(l);
      if (!hm) throw new Error(`not a header line: ${JSON.stringify(l)}`);
      headers[hm[1]!.toLowerCase()] = hm[2]!;
    }
    const status = Number(m[1]);
    let bodyStart = headEnd + 4;
    let body: Buffer;
    const noBody =
      status < 200 || status === 204 || status === 304 || (firstIsHead && !responses.some((r) => r.status >= 200));
    if (noBody) body = Buffer.alloc(0);
    else if (headers['transfer-encoding'] === 'chunked') {
      const parts: Buffer[] = [];
      let p = bodyStart;
      let complete = false;
      for (;;) {
        const lineEnd = data.indexOf('\r\n', p, 'latin1');
        if (lineEnd < 0) break;
        const size = Number.parseInt(data.subarray(p, lineEnd).toString('latin1'), 16);
        if (!Number.isFinite(size)) throw new Error('bad chunk size in a response');
        if (lineEnd + 2 + size + 2 > data.length) break;
        parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
        p = lineEnd + 2 + size + 2;
        if (size === 0) {
          complete = true;
          break;
        }
      }
      if (!complete) break;
      body = Buffer.concat(parts);
      bodyStart = p;
      responses.push({ status, headers, body });
      at = p;
      continue;
    } else if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      if (!Number.isSafeInteger(n)) throw new Error(`bad content-length in a response: ${headers['content-length']}`);
      if (bodyStart + n > data.length) break;
      body = data.subarray(bodyStart, bodyStart + n);
    } else {
      // Close-delimited (node:http's own 400/408/431 answers): the rest of the stream.
      if ((headers.connection ?? '').toLowerCase() !== 'close')
        throw new Error(`a response with neither a length nor Connection: close (status ${status})`);
      body = data.subarray(bodyStart);
    }
    responses.push({ status, headers, body });
    at = bodyStart + body.length;
  }
  return { responses, rest: data.subarray(at) };
}

/** The property for one raw request. */
async function check(pieces: Buffer[], fin: boolean): Promise<void> {
  cases++;
  const raw = Buffer.concat(pieces);
  const firstIsHead = raw.subarray(0, 5).toString('latin1') === 'HEAD ';
  const before = logged.length;
  const x = await exchange(pieces, fin, firstIsHead);
  const what = () =>
    `request ${JSON.stringify(raw.toString('latin1').slice(0, 300))}, answer ${JSON.stringify(x.data.toString('latin1').slice(0, 300))}`;
  expect(x.end, `no answer and no close within ${HANG_MS} ms: ${what()}`).not.toBe('hang');
  const { responses, rest } = parseResponses(x.data, firstIsHead);
  // The server closed mid-response: a truncated answer. (If we ended it, a later pipelined answer may
  // simply not have come yet.)
  if (x.end === 'server') expect(rest.length, `a truncated response: ${what()}`).toBe(0);
  for (const r of responses) {
    expect(EXPECTED.has(r.status), `unexpected status ${r.status}: ${what()}`).toBe(true);
    if (r.status >= 400 && r.body.length > 0 && /^application\/json/.test(r.headers['content-type'] ?? '')) {
      const body = JSON.parse(r.body.toString('utf8')) as { error?: { code?: unknown; message?: unknown } };
      expect(typeof body.error?.code, what()).toBe('string');
      expect(typeof body.error?.message, what()).toBe('string');
    }
  }
  const first = responses.find((r) => r.status >= 200)?.status;
  seen.set(String(first ?? 'closed'), (seen.get(String(first ?? 'closed')) ?? 0) + 1);
  const errors = logged.slice(before).filter((l) => l.includes('"internal-error"'));
  expect(errors, what()).toEqual([]);
}

/** A normal prediction on a fresh connection: the gateway still serves. */
function stillServes(): Promise<number> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ inputs: 'hello there' });
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: `/v1/models/${M}/predict`,
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

// ---- the corpus -------------------------------------------------------------------------------------

/** A corpus file: `#` comment lines first (`# fin` half-closes after the request); the rest is the raw
 * request with its line breaks ignored and escapes decoded: \r \n \t \0 \\ \xHH, and {{repeat N text}}. */
function decodeCorpus(text: string): { bytes: Buffer; fin: boolean } {
  const lines = text.split('\n');
  let fin = false;
  while (lines.length && lines[0]!.startsWith('#')) if (lines.shift()!.trim() === '# fin') fin = true;
  const joined = lines
    .join('')
    .replace(/\{\{repeat (\d+) ([^}]*)\}\}/g, (_, n: string, s: string) => s.repeat(Number(n)));
  const out: number[] = [];
  for (let i = 0; i < joined.length; i++) {
    const c = joined[i]!;
    if (c !== '\\') {
      for (const b of Buffer.from(c, 'utf8')) out.push(b);
      continue;
    }
    const e = joined[++i];
    if (e === 'r') out.push(13);
    else if (e === 'n') out.push(10);
    else if (e === 't') out.push(9);
    else if (e === '0') out.push(0);
    else if (e === '\\') out.push(92);
    else if (e === 'x') {
      out.push(Number.parseInt(joined.slice(i + 1, i + 3), 16));
      i += 2;
    } else throw new Error(`unknown escape \\${e}`);
  }
  return { bytes: Buffer.from(out), fin };
}

// ---- generated requests -----------------------------------------------------------------------------

const TOKEN = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_!#$%&*+.^`|~';
/** Characters that make header names, values and targets interesting. */
const NASTY = [
  '\0',
  '\x01',
  '\x7f',
  '\t',
  ' ',
  '\r',
  '\n',
  ':',
  ';',
  ',',
  '"',
  '%',
  '/',
  '\\',
  'é',
  '\u{1F600}',
  '\xff',
];
const text = (maxLength: number) =>
  fc.string({ unit: fc.oneof(fc.constantFrom(...TOKEN.split('')), fc.constantFrom(...NASTY)), maxLength });
const token = (maxLength: number) => fc.string({ unit: fc.constantFrom(...TOKEN.split('')), minLength: 1, maxLength });
/** Mostly printable ASCII; sometimes control characters and non-ASCII; sometimes huge (past the
 * 16 KiB header limit, within a bound). */
const headerValue = fc.oneof(
  { weight: 8, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: text(40) },
  { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 20_000 }).map((n) => 'v'.repeat(n)) },
);

const method = fc.oneof(
  { weight: 10, arbitrary: fc.constant('POST') },
  { weight: 3, arbitrary: fc.constant('GET') },
  { weight: 2, arbitrary: fc.constantFrom('HEAD', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', 'CONNECT', 'PRI') },
  { weight: 1, arbitrary: fc.oneof(token(8), text(8), fc.constantFrom('get', 'P0ST', 'POST ', '')) },
);

const target = fc.oneof(
  { weight: 10, arbitrary: fc.constant(`/v1/models/${M}/predict`) },
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      '/v1/models/nope/predict',
      '/v1/models/%E0%A4%A/predict',
      '/v1/models/__proto__/predict',
      '/v1/models/constructor/predict',
      `/v1/models/${M}/predict?x=1&y`,
      `/v1/models/${encodeURIComponent(M)}/predict/`,
      '/v1/chat/completions',
      '/v1/completions',
      '/v1/models',
      '/metrics',
      '/healthz',
      '/status',
      '/',
      '*',
      '//',
      `http://127.0.0.1/v1/models/${M}/predict`,
      '/%00',
      '/../../etc/passwd',
    ),
  },
  {
    weight: 2,
    arbitrary: fc.oneof(
      fc.webPath(),
      text(30).map((s) => `/${s}`),
    ),
  },
  { weight: 1, arbitrary: fc.integer({ min: 100, max: 20_000 }).map((n) => `/${'p'.repeat(n)}`) },
);

const version = fc.oneof(
  { weight: 12, arbitrary: fc.constant('HTTP/1.1') },
  { weight: 1, arbitrary: fc.constantFrom('HTTP/1.0', 'HTTP/2.0', 'HTTP/1.2', 'HTTP/9.9', 'HTTP/1', 'http/1.1', '') },
);

const jsonBody = fc.oneof(
  fc.json({ maxDepth: 3 }).map((j) => `{"inputs":${j}}`),
  fc.string({ maxLength: 40, unit: 'grapheme' }).map((s) => JSON.stringify({ inputs: s })),
  fc.array(fc.string({ maxLength: 20 }), { maxLength: 8 }).map((a) => JSON.stringify({ inputs: a })),
  fc.record({ text: fc.string({ maxLength: 30 }) }).map((t) => JSON.stringify({ inputs: t })),
  fc.json({ maxDepth: 4 }),
  fc
    .constantFrom(M, 'nope', '__proto__')
    .map((model) => JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], user: 'u1' })),
  fc.integer({ min: 1, max: 4_000 }).map((n) => `${'['.repeat(n)}${']'.repeat(n)}`),
);
/** Bodies the demo model accepts, mostly (and some it refuses as bad input). */
const predictBody = fc
  .oneof(
    fc.string({ minLength: 1, maxLength: 60, unit: 'grapheme' }),
    fc.array(fc.string({ minLength: 1, maxLength: 30 }), { minLength: 1, maxLength: 8 }),
    fc.record({ text: fc.string({ minLength: 1, maxLength: 40 }) }),
  )
  .map((inputs) => Buffer.from(JSON.stringify({ inputs }), 'utf8'));
const body = fc.oneof(
  { weight: 6, arbitrary: jsonBody.map((s) => Buffer.from(s, 'utf8')) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 10_000, max: 40_000 }).map((n) => Buffer.from(`{"inputs":"${'a'.repeat(n)}"}`)),
  },
  { weight: 1, arbitrary: fc.constant(Buffer.alloc(0)) },
);

const framing = fc.constantFrom(
  'length',
  'length',
  'length',
  'length',
  'length',
  'length',
  'chunked',
  'short',
  'long',
  'bogus',
  'chunked',
  'chunked',
  'chunked-bad',
  'both',
  'none',
  'te-other',
);

const contentType = fc.oneof(
  { weight: 8, arbitrary: fc.constant('application/json') },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      'application/json; charset=utf-8',
      'APPLICATION/JSON',
      'text/plain',
      'application/x-www-form-urlencoded',
      'application/json; charset=latin1',
      'application/jsonx',
      'multipart/form-data; boundary=x',
      '',
    ),
  },
  { weight: 1, arbitrary: headerValue },
);

const extraHeader = fc.oneof(
  fc.tuple(fc.constant('x-routing-key'), headerValue),
  fc.tuple(
    fc.constant('x-model-version'),
    fc.oneof(fc.constantFrom('2.0.0', '2.1.0', '9.9.9', '__proto__', ''), headerValue),
  ),
  fc.tuple(fc.constant('connection'), fc.constantFrom('close', 'keep-alive', 'upgrade', 'Close, TE')),
  fc.tuple(fc.constant('upgrade'), fc.constantFrom('websocket', 'h2c')),
  fc.tuple(fc.constant('expect'), fc.constantFrom('100-continue', '100-Continue', 'something-else')),
  fc.tuple(fc.constantFrom('accept', 'user-agent', 'cookie', 'accept-encoding'), headerValue),
  fc.tuple(token(20), headerValue),
  fc.tuple(token(20), headerValue),
  fc.tuple(text(12), headerValue),
);

/** A request from these field arbitraries (the wild ones by default). */
const requestOf = (
  over: {
    method?: fc.Arbitrary<string>;
    target?: fc.Arbitrary<string>;
    version?: fc.Arbitrary<string>;
    contentType?: fc.Arbitrary<string | null>;
    body?: fc.Arbitrary<Buffer>;
    framing?: fc.Arbitrary<string>;
  } = {},
) =>
  fc.record({
    method: over.method ?? method,
    target: over.target ?? target,
    version: over.version ?? version,
    host: fc.oneof(
      { weight: 9, arbitrary: fc.constant('127.0.0.1') },
      { weight: 1, arbitrary: fc.constantFrom(undefined, '', 'a b', 'x'.repeat(300)) },
    ),
    contentType: over.contentType ?? fc.option(contentType, { freq: 6 }),
    headers: fc.array(extraHeader, { maxLength: 3 }),
    body: over.body ?? body,
    framing: over.framing ?? framing,
    chunkSizes: fc.array(fc.integer({ min: 1, max: 5_000 }), { minLength: 1, maxLength: 4 }),
    lengthDelta: fc.integer({ min: 1, max: 64 }),
    bogusLength: fc.constantFrom('-1', 'abc', '1e3', ' 5', '0x10', '99999999999999999999', '5, 6', '+5', ''),
    lineEnd: fc.oneof(
      { weight: 20, arbitrary: fc.constant('\r\n') },
      { weight: 1, arbitrary: fc.constantFrom('\n', '\r') },
    ),
    pipelined: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    splits: fc.array(fc.nat(), { maxLength: 2 }),
    fin: fc.boolean(),
  });

/** Half wild requests, half predictions that parse (well framed), so the routes, body reading and the
 * model see plenty of inputs too. */
const requestCase = fc.oneof(
  requestOf(),
  requestOf({
    method: fc.constant('POST'),
    target: fc.constant(`/v1/models/${M}/predict`),
    version: fc.constant('HTTP/1.1'),
    contentType: fc.oneof(
      { weight: 8, arbitrary: fc.constant('application/json') },
      { weight: 1, arbitrary: contentType },
    ),
    body: fc.oneof({ weight: 3, arbitrary: predictBody }, { weight: 1, arbitrary: body }),
    framing: fc.constantFrom('length', 'length', 'chunked'),
  }),
);

type RequestCase = typeof requestCase extends fc.Arbitrary<infer T> ? T : never;

function serialize(c: RequestCase): Buffer {
  const nl = c.lineEnd;
  const head: string[] = [`${c.method} ${c.target} ${c.version}`.trimEnd()];
  if (c.host !== undefined) head.push(`host: ${c.host}`);
  if (c.contentType !== null) head.push(`content-type: ${c.contentType}`);
  for (const [k, v] of c.headers) head.push(`${k}: ${v}`);
  let payload = c.body;
  const chunked = (b: Buffer, bad: boolean) => {
    const parts: Buffer[] = [];
    let at = 0;
    let i = 0;
    while (at < b.length) {
      const n = Math.min(c.chunkSizes[i++ % c.chunkSizes.length]!, b.length - at);
      const size = bad && i === 2 ? `${n.toString(16)}zz` : n.toString(16);
      parts.push(
        Buffer.from(`${size}${bad && i === 1 ? ';ext=1' : ''}\r\n`),
        b.subarray(at, at + n),
        Buffer.from('\r\n'),
      );
      at += n;
    }
    if (!bad || c.lengthDelta % 2) parts.push(Buffer.from('0\r\n\r\n')); // a bad one may also lack its end
    return Buffer.concat(parts);
  };
  switch (c.framing) {
    case 'length':
      head.push(`content-length: ${payload.length}`);
      break;
    case 'short':
      head.push(`content-length: ${Math.max(0, payload.length - c.lengthDelta)}`);
      break;
    case 'long':
      head.push(`content-length: ${payload.length + c.lengthDelta}`);
      break;
    case 'bogus':
      head.push(`content-length: ${c.bogusLength}`);
      if (c.lengthDelta % 3 === 0) head.push(`content-length: ${payload.length}`);
      break;
    case 'chunked':
      head.push('transfer-encoding: chunked');
      payload = chunked(payload, false);
      break;
    case 'chunked-bad':
      head.push('transfer-encoding: chunked');
      payload = chunked(payload, true);
      break;
    case 'both':
      head.push(`content-length: ${payload.length}`, 'transfer-encoding: chunked');
      payload = chunked(payload, false);
      break;
    case 'te-other':
      head.push(`transfer-encoding: ${['gzip', 'identity', 'gzip, chunked', 'chunked, gzip'][c.lengthDelta % 4]}`);
      break;
    case 'none':
      break;
  }
  let bytes = Buffer.concat([Buffer.from(`${head.join(nl)}${nl}${nl}`, 'utf8'), payload]);
  if (c.pipelined) bytes = Buffer.concat([bytes, Buffer.from(`GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n`)]);
  return bytes;
}

/** Splits `bytes` at the generated offsets (a request arriving in several reads). */
function pieces(bytes: Buffer, splits: number[]): Buffer[] {
  const cuts = [...new Set(splits.map((s) => s % Math.max(1, bytes.length)))]
    .filter((x) => x > 0)
    .sort((a, b) => a - b);
  const out: Buffer[] = [];
  let at = 0;
  for (const cut of cuts) {
    out.push(bytes.subarray(at, cut));
    at = cut;
  }
  out.push(bytes.subarray(at));
  return out;
}

describe('fuzz: the gateway HTTP request parser', () => {
  it('answers every corpus request well-formed, or closes cleanly, and keeps serving', async () => {
    const files = readdirSync(CORPUS)
      .filter((f) => f.endsWith('.txt'))
      .sort();
    expect(files.length).toBeGreaterThan(10);
    for (const f of files) {
      const { bytes, fin } = decodeCorpus(readFileSync(`${CORPUS}${f}`, 'utf8'));
      await check([bytes], fin).catch((e: Error) => {
        throw new Error(`${f}: ${e.message}`);
      });
      expect(await stillServes(), f).toBe(200);
    }
  });

  it('answers generated raw requests well-formed, or closes cleanly, and keeps serving', {
    timeout: fuzzTimeout(),
  }, async () => {
    await fc.assert(
      fc.asyncProperty(requestCase, async (c) => {
        const bytes = serialize(c);
        await check(pieces(bytes, c.splits), c.fin);
        expect(await stillServes()).toBe(200);
      }),
      fuzzParameters(RUNS, 0x4854_5450),
    );
  });
});
