// The gateway's HTTP limits against misbehaving clients, over raw loopback sockets: slow headers, slow
// bodies, oversized bodies (declared and chunked), a wrong Content-Type, a client that hangs up
// mid-body, the connection cap and the keep-alive timeout. Timeouts are configured small (a few
// hundred ms) so every case is quick; time bounds are "within a few times the limit", never a
// performance claim.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { type Socket, connect } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FolderVersionSource, type Gateway, createGateway } from '../../src/gateway/index.ts';
import type { HttpLimits } from '../../src/gateway/http.ts';
import { NODE, ROOT, runCli, tempDir } from '../helpers.ts';
import { demoManifest, demoWeightsDir, parseMetrics, predictBody, send } from './helpers.ts';

const M = 'intent-classifier';
const PREDICT = `/v1/models/${M}/predict`;

const open: { gw: Gateway; agent: Agent; sockets: Socket[] }[] = [];
afterEach(async () => {
  for (const { gw, agent, sockets } of open.splice(0)) {
    for (const s of sockets) s.destroy();
    agent.destroy();
    await gw.close();
  }
});

/** Small limits, so each case takes a fraction of a second. */
const FAST: Partial<HttpLimits> = {
  headersTimeoutMs: 300,
  bodyTimeoutMs: 300,
  requestTimeoutMs: 2_000,
  keepAliveTimeoutMs: 200,
  lingerMs: 200,
  maxBodyBytes: 4096,
};

async function start(limits: Partial<HttpLimits> = {}) {
  const lines: string[] = [];
  const events: unknown[] = [];
  const gw = createGateway({
    environment: 'production',
    source: new FolderVersionSource(demoWeightsDir()),
    log: (line) => lines.push(line),
    onEvent: (e) => events.push(e),
  });
  await gw.applyManifest(demoManifest({ [M]: { version: '2.0.0' } }));
  const { url, port } = await gw.listen(0, '127.0.0.1', { ...FAST, ...limits });
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  const entry = { gw, agent, sockets: [] as Socket[] };
  open.push(entry);
  const raw = () => {
    const r = new Raw(port);
    entry.sockets.push(r.sock);
    return r;
  };
  const metric = async (name: string) =>
    parseMetrics((await send(agent, 'GET', `${url}/metrics`)).text).find((s) => s.name === name)?.value;
  const stillServes = async () => {
    const r = await send(agent, 'POST', `${url}${PREDICT}`, predictBody('hello there'));
    expect(r.status, r.text).toBe(200);
  };
  return { gw, url, port, agent, lines, events, raw, metric, stillServes };
}

/** A raw loopback client that records what it receives and when the server closes. */
class Raw {
  readonly sock: Socket;
  readonly opened = performance.now();
  text = '';
  /** The server's FIN (it ended its side). */
  ended = false;
  closed = false;
  closedAt = Number.NaN;
  error: string | undefined;
  private readonly waiters = new Set<() => void>();

  constructor(port: number) {
    this.sock = connect(port, '127.0.0.1');
    this.sock.setNoDelay(true);
    this.sock.on('data', (c: Buffer) => {
      this.text += c.toString('latin1');
      this.wake();
    });
    this.sock.on('end', () => {
      this.ended = true;
      this.wake();
    });
    this.sock.on('error', (e: NodeJS.ErrnoException) => {
      this.error = e.code ?? e.message;
    });
    this.sock.on('close', () => {
      this.closed = true;
      this.closedAt = performance.now() - this.opened;
      this.wake();
    });
  }

  connected(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (!this.sock.connecting) return resolve();
      this.sock.once('connect', () => resolve());
      this.sock.once('error', reject);
    });
  }

  /** Writes unless the socket is gone; resolves when the data was handed to the kernel. */
  write(data: string | Buffer): Promise<boolean> {
    if (this.sock.destroyed || !this.sock.writable) return Promise.resolve(false);
    return new Promise((resolve) => this.sock.write(data, (e) => resolve(!e)));
  }

  /** Waits until `pred` holds (true) or `ms` pass (false). */
  until(pred: () => boolean, ms: number): Promise<boolean> {
    if (pred()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const check = () => {
        if (!pred()) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        resolve(false);
      }, ms);
      this.waiters.add(check);
    });
  }

  /** Trickles `data` one byte per `everyMs` until the server closes or `maxMs` pass. */
  async trickle(data: string, everyMs: number, maxMs: number): Promise<void> {
    const end = performance.now() + maxMs;
    for (let i = 0; i < data.length && !this.closed && performance.now() < end; i++) {
      await this.write(data[i]!);
      await this.until(() => this.closed, everyMs);
    }
  }

  responses(): RawResponse[] {
    return parseResponses(this.text);
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Splits what a server sent into responses (Content-Length bodies; the rest of the stream otherwise). */
function parseResponses(text: string): RawResponse[] {
  const out: RawResponse[] = [];
  let at = 0;
  while (at < text.length) {
    const headEnd = text.indexOf('\r\n\r\n', at);
    if (headEnd < 0) break;
    const [statusLine, ...lines] = text.slice(at, headEnd).split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine!);
    if (!m) throw new Error(`not an HTTP status line: ${JSON.stringify(statusLine)}`);
    const headers: Record<string, string> = {};
    for (const l of lines) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    const length =
      headers['content-length'] === undefined ? text.length - headEnd - 4 : Number(headers['content-length']);
    out.push({ status: Number(m[1]), headers, body: text.slice(headEnd + 4, headEnd + 4 + length) });
    at = headEnd + 4 + length;
  }
  return out;
}

const head = (path: string, headers: Record<string, string | number>, method = 'POST') =>
  `${method} ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;

describe('gateway HTTP limits', () => {
  it('closes a client that sends its headers one byte at a time, within the header timeout', async () => {
    const { raw, stillServes, metric } = await start();
    const c = raw();
    await c.connected();
    const request = head(PREDICT, {
      'content-type': 'application/json',
      'content-length': 2,
      'x-pad': 'y'.repeat(200),
    });
    await c.trickle(request, 50, 5_000);
    expect(c.closed, 'the server should have closed the slow-header connection').toBe(true);
    // headersTimeoutMs 300; the check runs every ~75 ms: closed well within a few timeouts.
    expect(c.closedAt).toBeLessThan(2_000);
    const [r] = c.responses();
    if (r) expect(r.status).toBe(408);
    expect(await metric('model_gitops_request_timeouts_total')).toBe(1);
    await stillServes();
  });

  it('answers 408 (or closes) a client whose body arrives too slowly, within the body timeout', async () => {
    const { raw, stillServes, lines, metric } = await start();
    const c = raw();
    await c.connected();
    const body = predictBody('a slow body, one byte at a time');
    await c.write(head(PREDICT, { 'content-type': 'application/json', 'content-length': body.length }));
    const t0 = performance.now();
    await c.trickle(body, 50, 5_000);
    expect(c.closed || c.ended, 'the server should have given up on the slow body').toBe(true);
    expect(performance.now() - t0).toBeLessThan(2_000);
    const [r] = c.responses();
    expect(r?.status).toBe(408);
    expect(JSON.parse(r!.body).error.code).toBe('body-timeout');
    expect(r!.headers.connection).toBe('close');
    expect(lines.join('\n')).not.toMatch(/internal-error/);
    expect(await metric('model_gitops_request_timeouts_total')).toBe(1);
    expect(await metric('model_gitops_client_aborts_total')).toBe(0);
    await stillServes();
  });

  it('answers a declared 20 MB body with 413 at once, without reading it, and closes the connection', async () => {
    const { raw, stillServes } = await start({ maxBodyBytes: 1024 * 1024 });
    const c = raw();
    await c.connected();
    // Headers only: a server that waits for (or drains) the body never answers this.
    await c.write(head(PREDICT, { 'content-type': 'application/json', 'content-length': 20 * 1024 * 1024 }));
    expect(await c.until(() => c.responses().length > 0, 1_000), 'a 413 before any body byte was sent').toBe(true);
    const [r] = c.responses();
    expect(r!.status).toBe(413);
    expect(r!.headers.connection).toBe('close');
    expect(JSON.parse(r!.body).error).toMatchObject({ code: 'body-too-large' });
    // The connection is then closed by the server (after a short linger), not left open.
    expect(await c.until(() => c.ended || c.closed, 2_000)).toBe(true);
    await stillServes();
  });

  it('a client that sends its 20 MB body regardless still reads the 413, and the server does not take it all', async () => {
    const { raw, stillServes } = await start({ maxBodyBytes: 1024 * 1024 });
    const c = raw();
    await c.connected();
    await c.write(head(PREDICT, { 'content-type': 'application/json', 'content-length': 20 * 1024 * 1024 }));
    const chunk = Buffer.alloc(256 * 1024, 'a');
    let accepted = 0;
    const deadline = performance.now() + 3_000;
    while (accepted < 20 * 1024 * 1024 && !c.closed && performance.now() < deadline) {
      const ok = c.sock.write(chunk);
      if (!ok) await Promise.race([new Promise((r) => c.sock.once('drain', r)), c.until(() => c.closed, 500)]);
      if (!c.closed) accepted += chunk.length;
    }
    expect(await c.until(() => c.closed, 3_000)).toBe(true);
    const [r] = c.responses();
    expect(r?.status, 'the 413 must reach the client, not a bare connection reset').toBe(413);
    // It drops lingerBytes (64 KiB) and stops reading: what the client got rid of beyond that sits
    // in the two kernels' socket buffers (a few MB on loopback), far from 20 MB.
    expect(accepted, 'the server stopped reading long before the whole body').toBeLessThan(16 * 1024 * 1024);
    await stillServes();
  });

  it('answers 413 and closes when a chunked body passes the limit while streaming', async () => {
    const { raw, stillServes } = await start({ maxBodyBytes: 4096 });
    const c = raw();
    await c.connected();
    await c.write(head(PREDICT, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' }));
    const piece = '{"inputs":"' + 'x'.repeat(989);
    // 10 chunks of 1000 bytes, never the terminating 0-chunk: the limit alone must end this.
    for (let i = 0; i < 10 && !c.closed && c.responses().length === 0; i++) {
      await c.write(`${piece.length.toString(16)}\r\n${piece}\r\n`);
      await c.until(() => c.responses().length > 0, 20);
    }
    expect(await c.until(() => c.responses().length > 0, 1_000)).toBe(true);
    const [r] = c.responses();
    expect(r!.status).toBe(413);
    expect(JSON.parse(r!.body).error.code).toBe('body-too-large');
    expect(await c.until(() => c.ended || c.closed, 2_000), 'the connection is closed after a 413').toBe(true);
    await stillServes();
  });

  it('refuses a JSON body sent with a Content-Type other than application/json with 415', async () => {
    const { url, agent, stillServes } = await start();
    const body = predictBody('hello there');
    const post = (headers: Record<string, string>) => send(agent, 'POST', `${url}${PREDICT}`, body, headers);
    for (const type of [
      'text/plain',
      'application/x-www-form-urlencoded',
      'application/jsonx',
      'application/json; charset=latin1',
    ]) {
      const r = await post({ 'content-type': type });
      expect(r.status, `${type}: ${r.text}`).toBe(415);
      expect(r.json.error.code).toBe('unsupported-media-type');
    }
    // No Content-Type at all (curl -d sends form-urlencoded; a raw client may send none).
    const c = (await start()).raw();
    await c.connected();
    await c.write(`${head(PREDICT, { 'content-length': body.length })}${body}`);
    expect(await c.until(() => c.responses().length > 0, 1_000)).toBe(true);
    expect(c.responses()[0]!.status).toBe(415);
    for (const type of [
      'application/json',
      'Application/JSON',
      'application/json; charset=utf-8',
      'application/json;charset="UTF-8"',
    ]) {
      const r = await post({ 'content-type': type });
      expect(r.status, `${type}: ${r.text}`).toBe(200);
    }
    await stillServes();
  });

  it('counts a client that hangs up mid-body, and logs no internal error or stack for it', async () => {
    const { raw, metric, lines, events, stillServes } = await start();
    for (let i = 0; i < 3; i++) {
      const c = raw();
      await c.connected();
      await c.write(head(PREDICT, { 'content-type': 'application/json', 'content-length': 1000 }) + '{"inputs":');
      await new Promise((r) => setTimeout(r, 30));
      c.sock.destroy();
    }
    const deadline = performance.now() + 2_000;
    let aborts = await metric('model_gitops_client_aborts_total');
    while (aborts !== 3 && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      aborts = await metric('model_gitops_client_aborts_total');
    }
    expect(aborts).toBe(3);
    const logged = lines.join('\n');
    expect(logged).not.toMatch(/internal-error/);
    expect(logged, 'no stack trace').not.toMatch(/\s+at \S+ \(/);
    expect(events).not.toContainEqual(expect.objectContaining({ error: expect.anything() }));
    await stillServes();
  });

  it('respects the connection cap: one more connection is closed unanswered, and a freed slot is reused', async () => {
    const { raw, metric, stillServes } = await start({
      maxConnections: 4,
      keepAliveTimeoutMs: 5_000,
      headersTimeoutMs: 5_000,
      requestTimeoutMs: 10_000,
    });
    const held: Raw[] = [];
    for (let i = 0; i < 4; i++) {
      const c = raw();
      await c.connected();
      await c.write(head('/healthz', {}, 'GET'));
      expect(await c.until(() => c.responses().length > 0, 2_000)).toBe(true);
      expect(c.responses()[0]!.status).toBe(200);
      held.push(c); // stays open: keep-alive
    }
    const extra = raw();
    await extra.connected().catch(() => undefined);
    await extra.write(head('/healthz', {}, 'GET'));
    expect(await extra.until(() => extra.closed, 2_000), 'the fifth connection is closed').toBe(true);
    expect(extra.responses()).toEqual([]);
    // Free a slot; then a new connection is served.
    held[0]!.sock.destroy();
    await held[0]!.until(() => held[0]!.closed, 1_000);
    await new Promise((r) => setTimeout(r, 50));
    const next = raw();
    await next.connected();
    await next.write(head('/healthz', {}, 'GET'));
    expect(await next.until(() => next.responses().length > 0, 2_000)).toBe(true);
    expect(next.responses()[0]!.status).toBe(200);
    next.sock.destroy();
    for (const c of held) c.sock.destroy();
    await new Promise((r) => setTimeout(r, 50));
    expect(await metric('model_gitops_connections_dropped_total')).toBeGreaterThanOrEqual(1);
    await stillServes();
  });

  it('closes an idle keep-alive connection after the keep-alive timeout', async () => {
    const { raw } = await start({ keepAliveTimeoutMs: 200 });
    const c = raw();
    await c.connected();
    await c.write(head('/healthz', {}, 'GET'));
    expect(await c.until(() => c.responses().length > 0, 1_000)).toBe(true);
    const t0 = performance.now();
    // keepAliveTimeoutMs + Node's 1 s grace for requests already on the wire, with slack.
    expect(await c.until(() => c.closed || c.ended, 4_000)).toBe(true);
    expect(performance.now() - t0).toBeLessThan(3_000);
  });

  it('serve takes the limits as flags: it refuses bad ones, and applies them', async () => {
    const dir = tempDir('mg-limits-');
    const manifestPath = join(dir, 'manifest.json');
    writeFileSync(manifestPath, JSON.stringify(demoManifest({ [M]: { version: '2.0.0' } })));
    const base = ['serve', '--manifest', manifestPath, '--environment', 'production', '--models-dir', demoWeightsDir()];
    const inverted = runCli([...base, '--headers-timeout-ms', '60000', '--request-timeout-ms', '1000']);
    expect(inverted.status).toBe(2);
    expect(inverted.stderr).toMatch(/headers timeout \(60000 ms\) cannot be longer than the request timeout/);
    const zero = runCli([...base, '--max-connections', '0']);
    expect(zero.status).toBe(2);
    expect(zero.stderr).toContain('--max-connections must be a whole number >= 1');
    const child = spawn(
      NODE,
      [
        join(ROOT, 'bin', 'model-gitops.js'),
        ...base,
        '--port',
        '0',
        '--json',
        '--state',
        join(dir, 's.json'),
        '--headers-timeout-ms',
        '300',
        '--request-timeout-ms',
        '1000',
      ],
      { cwd: dir },
    );
    try {
      let out = '';
      const { url } = await new Promise<{ url: string }>((resolve, reject) => {
        child.stdout.on('data', (c) => {
          out += c;
          try {
            resolve(JSON.parse(out));
          } catch {
            /* not complete yet */
          }
        });
        child.on('exit', (code) => reject(new Error(`serve exited with ${code}`)));
      });
      const c = new Raw(Number(new URL(url).port));
      await c.connected();
      await c.trickle(head('/healthz', { 'x-pad': 'y'.repeat(100) }, 'GET'), 50, 5_000);
      expect(c.closed).toBe(true);
      expect(c.closedAt).toBeLessThan(2_000); // --headers-timeout-ms 300, not the default 10 s
      c.sock.destroy();
    } finally {
      child.kill('SIGTERM');
    }
  });
});
