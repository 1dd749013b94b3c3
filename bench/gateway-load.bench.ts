// `node bench/gateway-load.bench.ts [seconds-per-phase]` (or `npm run bench gateway-load`)
//
// Load on the gateway (`gateway.listen`, so its HTTP limits apply) serving the demo model, over
// loopback only, every phase bounded in time (default 5 s, pass 10 for the long run):
//   1. throughput and p50/p99 at 16 and 64 keep-alive connections, against two peers measured in
//      the same run: the demo model called in process (no HTTP), and a bare node:http server that
//      only parses JSON and calls predict (the HTTP floor); the gateway's overhead is the ratio;
//   2. the same normal traffic while a mix of bad inputs (20 MB declared bodies, chunked bodies over
//      the limit, wrong Content-Type, bad JSON, aborts mid-body, garbage HTTP, huge headers, unknown
//      routes) and slow clients (headers and bodies one byte a second) runs from another process:
//      normal p99 under the mix / quiet p99 (goal <= 2x), closed loop at 16 and 64 connections
//      (saturating: on a small machine that mostly measures how the CPU is shared with the mix) and
//      open loop at a fixed 2,000 req/s (below saturation: what bad traffic does to normal users),
//      in RATE_ROUNDS (4) rounds of quiet then mixed, so that the machine's own noise falls on both;
//      the server's event-loop delay, and its CPU per bad request;
//   3. the server's RSS before the burst and after each round, each after a GC and a short idle;
//   4. each kind of bad request alone, then the slow clients alone: the server's CPU per request
//      and its event-loop delay (which kind it is that costs normal users their latency).
// RATE_ONLY=1 skips the closed-loop phases.
//
// Load generator: `wrk` when it is on PATH (Debian/Ubuntu: `apt-get install wrk`; it is never a
// dependency of the project), else an in-process one (node:http keep-alive agent, N concurrent
// loops). LOAD=node forces the in-process one; MIX=kind,... runs only those kinds of bad request;
// GATEWAY_LIMITS='{"lingerBytes":65536}' (JSON) gives the gateway other limits than GATEWAY_DEFAULTS.
// The servers and the bad-input mix run in child processes, so the load generator's own work never
// shares the server's event loop. PIN=1 (needs taskset and 2+ CPUs) gives the servers the last CPU
// to themselves and puts the load generator, wrk and the mix on the others, the mix at a lower
// priority (nice 10): in production the attacker's CPU is not the server's or the normal client's.
// It is not the default because on a 2-core machine it also confines V8's GC helper threads to the
// server's one core, which a gateway on a real host does not suffer; unpinned, the kernel shares two
// cores between the attacker's process, the load generator and the server. Report both.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, type IncomingMessage, type ServerResponse, createServer, request } from 'node:http';
import { type AddressInfo, type Socket, connect } from 'node:net';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { writeDemoWeights } from '../scripts/demo-weights.ts';
import { FolderVersionSource, bagOfBytesLoader, createGateway } from '../src/gateway/index.ts';
import type { Manifest } from '../src/manifest/manifest.ts';
import { demoManifest } from '../test/gateway/demo-manifest.ts';
import { bareModelServer } from './bare-model-server.ts';
import { median, percentile } from './stats.ts';

const MODEL = 'intent-classifier';
const PREDICT = `/v1/models/${MODEL}/predict`;
const HOST = '127.0.0.1';
const manifest = (): Manifest => demoManifest({ [MODEL]: { version: '2.0.0' } });
const TEXTS = Array.from({ length: 256 }, (_, i) => `please ${i % 3 ? 'order' : 'cancel'} item number ${i} for me`);
/** Bad requests per mix phase at most (the issue's burst), and their rate. */
const MIX_MAX_BAD = 5_000;
const MIX_BAD_PER_SECOND = 500;
/** The kinds of bad request in the mix, in the order it sends them. */
const MIX_KINDS = [
  'declared 20 MB body',
  'chunked body over the limit',
  'wrong content-type',
  'bad JSON',
  'bad inputs',
  'abort mid-body',
  'garbage HTTP',
  'huge header',
  'unknown route',
  'wrong method',
  'unknown model',
] as const;
type MixKind = (typeof MIX_KINDS)[number];
/** Slow clients held open during a mix phase (half slow headers, half slow bodies). */
const MIX_SLOW_CLIENTS = 64;

const gc = (globalThis as { gc?: () => void }).gc;

/** CPU pinning: the servers on the last CPU, everything that makes load on the others. */
const CPUS = os.availableParallelism();
const PINNED = process.env.PIN === '1' && CPUS >= 2 && spawnSync('taskset', ['-V']).error === undefined;
const SERVER_CPUS = String(CPUS - 1);
const LOAD_CPUS = CPUS === 2 ? '0' : `0-${CPUS - 2}`;
/** `command args` run on `cpus` (and at `nice`) when pinning, else as is. */
function placed(command: string, args: string[], cpus: string, nice = 0): [string, string[]] {
  if (!PINNED) return [command, args];
  const pinned = ['-c', cpus, command, ...args];
  return nice ? ['nice', ['-n', String(nice), 'taskset', ...pinned]] : ['taskset', pinned];
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- child: a server ------------------------------------------------------------------------------
async function serve(kind: string, weights: string): Promise<void> {
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const logs = { lines: 0, bytes: 0, internalErrors: 0 };
  let port: number;
  if (kind === 'gateway') {
    const gw = createGateway({
      environment: 'production',
      source: new FolderVersionSource(weights),
      // Counted, not printed: what a burst of bad requests makes the gateway write.
      log: (line) => {
        logs.lines++;
        logs.bytes += line.length;
        if (line.includes('"internal-error"')) logs.internalErrors++;
      },
    });
    await gw.applyManifest(manifest());
    // GATEWAY_LIMITS='{"lingerBytes":65536}' tries other HTTP limits than the defaults.
    port = (await gw.listen(0, HOST, JSON.parse(process.env.GATEWAY_LIMITS ?? '{}'))).port;
  } else if (kind === 'floor') {
    const server = floorServer();
    await new Promise<void>((r) => server.listen(0, HOST, r));
    port = (server.address() as AddressInfo).port;
  } else {
    const loaded = await bagOfBytesLoader.load(
      join(weights, MODEL, '2.0.0'),
      manifest().models[MODEL]!.versions['2.0.0']!,
    );
    await loaded.warm();
    const server = bareModelServer(loaded);
    await new Promise<void>((r) => server.listen(0, HOST, r));
    port = (server.address() as AddressInfo).port;
  }
  // A side channel on its own port, so asking for figures never takes one of the gateway's connections.
  const control = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.searchParams.has('gc')) {
      gc?.();
      gc?.();
    }
    const m = process.memoryUsage();
    const c = process.threadCpuUsage();
    const ms = (ns: number) => ns / 1e6;
    const body = {
      rss: m.rss,
      heapTotal: m.heapTotal,
      heapUsed: m.heapUsed,
      external: m.external,
      arrayBuffers: m.arrayBuffers,
      cpuUs: c.user + c.system,
      loopMs: { p50: ms(loop.percentile(50)), p99: ms(loop.percentile(99)), max: ms(loop.max) },
      logs,
    };
    if (url.searchParams.has('reset')) loop.reset();
    res.end(JSON.stringify(body));
  });
  await new Promise<void>((r) => control.listen(0, HOST, r));
  process.stdout.write(`${JSON.stringify({ port, control: (control.address() as AddressInfo).port })}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
}

/**
 * The floor for the per-kind costs: a node:http server that refuses everything with the least work the
 * gateway's refusals need. It reads a body up to the gateway's 1 MiB limit, answers 413 past it
 * (closing after dropping at most 64 KiB more, as the gateway lingers), else 404. No routing, no
 * JSON, no limits beyond that: what a bad request costs Node itself.
 */
function floorServer(): ReturnType<typeof createServer> {
  const limit = 1024 * 1024;
  return createServer((req, res) => {
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size <= limit) return;
      req.off('data', onData);
      res.writeHead(413, { connection: 'close', 'content-length': 2 }).end('{}');
      let dropped = 0;
      req.on('data', (d: Buffer) => {
        dropped += d.length;
        if (dropped >= 64 * 1024) req.pause();
      });
    };
    req.on('data', onData);
    req.on('end', () => {
      if (!res.headersSent) res.writeHead(404, { 'content-length': 2 }).end('{}');
    });
    req.on('error', () => undefined);
  });
}

// ---- child: the bad-input and slow-client mix -----------------------------------------------------
async function mix(port: number, seconds: number): Promise<void> {
  const end = performance.now() + seconds * 1000;
  const outcomes: Record<string, Record<string, number>> = {};
  const count = (kind: string, what: string) => {
    const k = (outcomes[kind] ??= {});
    k[what] = (k[what] ?? 0) + 1;
  };
  const head = (method: string, path: string, headers: Record<string, string | number>) =>
    `${method} ${path} HTTP/1.1\r\nhost: ${HOST}\r\n${Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('')}\r\n`;
  const json = { 'content-type': 'application/json' };
  const mb = Buffer.alloc(1 << 20, 'a');

  /** One bad request on a fresh connection: writes `send`, waits for a status line or a close (3 s at most). */
  const bad = (kind: string, send: (s: Socket, answered: () => boolean) => Promise<void>) =>
    new Promise<void>((resolve) => {
      let text = '';
      let done = false;
      const s = connect(port, HOST);
      const finish = (what: string) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        count(kind, what);
        s.destroy();
        resolve();
      };
      const timer = setTimeout(() => finish('no answer in 3 s'), 3_000);
      s.on('data', (c: Buffer) => {
        text += c.toString('latin1');
        const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
        if (m) finish(m[1]!);
      });
      s.on('error', (e: NodeJS.ErrnoException) => finish(e.code ?? 'error'));
      s.on('close', () => finish('closed'));
      s.on('connect', () => {
        send(s, () => done).catch(() => undefined);
      });
    });
  const write = (s: Socket, data: string | Buffer) =>
    new Promise<void>((resolve) => {
      if (s.destroyed || !s.writable) return resolve();
      if (s.write(data)) return resolve();
      const done = () => {
        s.off('drain', done);
        s.off('close', done);
        resolve();
      };
      s.on('drain', done);
      s.on('close', done);
    });

  const all: [MixKind, (s: Socket, answered: () => boolean) => Promise<void>][] = [
    [
      'declared 20 MB body',
      async (s, answered) => {
        await write(s, head('POST', PREDICT, { ...json, 'content-length': 20 << 20 }));
        // Keeps sending in 64 KiB pieces (curl's upload buffer) until answered or cut.
        const piece = mb.subarray(0, 64 * 1024);
        for (let sent = 0; sent < 20 << 20 && !answered(); sent += piece.length) await write(s, piece);
      },
    ],
    [
      'chunked body over the limit',
      async (s, answered) => {
        await write(s, head('POST', PREDICT, { ...json, 'transfer-encoding': 'chunked' }));
        const chunk = `${(64 * 1024).toString(16)}\r\n${'a'.repeat(64 * 1024)}\r\n`;
        for (let i = 0; i < 64 && !answered(); i++) await write(s, chunk);
      },
    ],
    [
      'wrong content-type',
      (s) =>
        write(s, `${head('POST', PREDICT, { 'content-type': 'text/plain', 'content-length': 19 })}{"inputs":"hello!"}`),
    ],
    ['bad JSON', (s) => write(s, `${head('POST', PREDICT, { ...json, 'content-length': 11 })}{"inputs":[`)],
    ['bad inputs', (s) => write(s, `${head('POST', PREDICT, { ...json, 'content-length': 13 })}{"inputs":17}`)],
    [
      'abort mid-body',
      async (s) => {
        await write(s, `${head('POST', PREDICT, { ...json, 'content-length': 100_000 })}{"inputs":"`);
        await write(s, mb.subarray(0, 50_000));
        s.destroy();
      },
    ],
    ['garbage HTTP', (s) => write(s, 'GET / HTTP/1.1\r\nhost: x\r\nbad header line\r\n\r\n')],
    ['huge header', (s) => write(s, head('GET', '/healthz', { 'x-big': 'x'.repeat(64 * 1024) }))],
    ['unknown route', (s) => write(s, head('GET', '/nowhere/at/all', {}))],
    ['wrong method', (s) => write(s, head('DELETE', PREDICT, {}))],
    [
      'unknown model',
      (s) =>
        write(s, `${head('POST', '/v1/models/nope/predict', { ...json, 'content-length': 19 })}{"inputs":"hello!"}`),
    ],
  ];

  if (all.map(([k]) => k).join() !== MIX_KINDS.join()) throw new Error('MIX_KINDS does not list the mix in order');
  // MIX=kind,kind (parts of the names) runs only those kinds of bad request, to see what each costs.
  const only = process.env.MIX?.split(',');
  const kinds = only ? all.filter(([k]) => only.some((o) => k.includes(o))) : all;
  // Slow clients: each trickles one byte a second; one the server closes is replaced (bounded).
  const slow = new Set<Socket>();
  let slowOpened = 0;
  const openSlow = (i: number) => {
    if (performance.now() >= end || slowOpened >= MIX_SLOW_CLIENTS * 20) return;
    slowOpened++;
    const kind = i % 2 ? 'slow body' : 'slow headers';
    const s = connect(port, HOST);
    slow.add(s);
    const rest =
      i % 2
        ? `${head('POST', PREDICT, { ...json, 'content-length': 1000 })}${'{"inputs":"'.padEnd(1000, 'a')}`
        : head('POST', PREDICT, { ...json, 'content-length': 2, 'x-slow': 'z'.repeat(500) });
    let at = i % 2 ? rest.indexOf('\r\n\r\n') + 4 : 30; // slow bodies send their headers at once
    const timer = setInterval(() => {
      if (at < rest.length && s.writable) s.write(rest[at++]!);
    }, 1000);
    s.on('connect', () => s.write(rest.slice(0, at)));
    s.on('data', (c: Buffer) => {
      const m = /^HTTP\/1\.1 (\d{3})/.exec(c.toString('latin1'));
      if (m) count(kind, m[1]!);
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      clearInterval(timer);
      if (slow.delete(s)) {
        count(kind, 'closed by the server');
        setTimeout(() => openSlow(i), 100);
      }
    });
  };
  // SLOW=0 leaves the slow clients out (the per-kind costs measure each kind alone).
  const slowClients = process.env.SLOW === '0' ? 0 : MIX_SLOW_CLIENTS;
  for (let i = 0; i < slowClients; i++) openSlow(i);

  // Bad requests at a fixed rate, whatever the server's answers take (at most 64 in flight).
  let sent = 0;
  let skipped = 0;
  const inflight = new Set<Promise<void>>();
  const t0 = performance.now();
  while (kinds.length > 0 && performance.now() < end && sent < MIX_MAX_BAD) {
    if (inflight.size >= 64) skipped++;
    else {
      const [kind, send] = kinds[sent++ % kinds.length]!;
      const p = bad(kind, send).then(() => {
        inflight.delete(p);
      });
      inflight.add(p);
    }
    const wait = t0 + ((sent + skipped) / MIX_BAD_PER_SECOND) * 1000 - performance.now();
    if (wait >= 1) await sleep(wait);
  }
  await Promise.all(inflight);
  const left = end - performance.now();
  if (left >= 1) await sleep(left);
  const stillOpen = slow.size;
  for (const s of [...slow]) {
    slow.delete(s);
    s.destroy();
  }
  process.stdout.write(
    `${JSON.stringify({ bad: sent, skippedAt64InFlight: skipped, slowOpened, slowStillOpenAtEnd: stillOpen, outcomes })}\n`,
  );
}

// ---- the parent: load generator and report --------------------------------------------------------
/** A cell from its latencies (sorted here) and its throughput. */
function latencyCell(lat: number[], rps: number, errors: number): Cell {
  lat.sort((a, b) => a - b);
  return { rps, p50: percentile(lat, 0.5), p99: percentile(lat, 0.99), errors };
}

interface Cell {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

function startChild(args: string[]): Promise<{ info: { port: number; control: number }; stop: () => void }> {
  const child = spawn(
    ...placed(
      process.execPath,
      [...process.execArgv, '--expose-gc', new URL(import.meta.url).pathname, ...args],
      SERVER_CPUS,
    ),
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c) => {
      out += c;
      if (out.includes('\n'))
        resolve({
          info: JSON.parse(out) as { port: number; control: number },
          stop: () => {
            child.stdin.end();
            child.kill();
          },
        });
    });
    child.on('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`)));
  });
}

function runMix(port: number, seconds: number, env: Record<string, string> = {}): Promise<unknown> {
  const child = spawn(
    ...placed(
      process.execPath,
      [...process.execArgv, new URL(import.meta.url).pathname, '--mix', String(port), String(seconds)],
      LOAD_CPUS,
      10,
    ),
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } },
  );
  let out = '';
  child.stdout.on('data', (c) => {
    out += c;
  });
  return new Promise((resolve, reject) => {
    const kill = setTimeout(() => child.kill(), (seconds + 30) * 1000); // bounded whatever happens
    child.on('exit', (code) => {
      clearTimeout(kill);
      if (code === 0) resolve(JSON.parse(out));
      else reject(new Error(`the mix exited with ${code}`));
    });
  });
}

const get = (port: number, path: string) =>
  new Promise<string>((resolve, reject) => {
    const req = request({ host: HOST, port, path, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        text += c;
      });
      res.on('end', () => resolve(text));
    });
    req.on('error', reject);
    req.end();
  });

interface Stats {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  cpuUs: number;
  loopMs: { p50: number; p99: number; max: number };
  logs: { lines: number; bytes: number; internalErrors: number };
}
const stats = async (control: number, query = ''): Promise<Stats> =>
  JSON.parse(await get(control, `/?${query}`)) as Stats;

/** Closed-loop load with the in-process generator: `concurrency` loops over a keep-alive agent. */
async function nodeLoad(port: number, path: string, concurrency: number, seconds: number): Promise<Cell> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const lat: number[] = [];
  let errors = 0;
  const start = performance.now();
  const warmEnd = start + 300;
  const end = start + seconds * 1000;
  let i = 0;
  const call = (body: string) =>
    new Promise<void>((resolve) => {
      const req = request(
        { host: HOST, port, path, method: 'POST', agent, headers: { 'content-type': 'application/json' } },
        (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode !== 200) errors++;
            resolve();
          });
        },
      );
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end(body);
    });
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        await call(JSON.stringify({ inputs: TEXTS[i++ & 255] }));
        if (t0 > warmEnd) lat.push(performance.now() - t0);
      }
    }),
  );
  agent.destroy();
  return latencyCell(lat, lat.length / (seconds - 0.3), errors);
}

/** Open-loop load at a fixed rate: each request's latency counts from when it was due, so a stalled
 * server is not hidden by a generator that waits for it. Below saturation, its p99 shows what bad
 * traffic does to normal users rather than how the CPU is shared out at 100% load. The generator is
 * raw keep-alive sockets writing one prepared request and reading `HTTP/1.1 200` plus Content-Length
 * bytes (the gateway always sends one): a few µs per request, so that its own CPU and GC, which
 * node:http's client costs tens of µs and occasional pauses, are not what the p99 measures. At most
 * `connections` requests are in flight; a request due while all are busy waits, and its wait counts. */
async function rateLoad(
  port: number,
  path: string,
  perSecond: number,
  seconds: number,
  connections = 64,
): Promise<Cell & { lat: number[] }> {
  const requests = TEXTS.map((t) => {
    const body = JSON.stringify({ inputs: t });
    return Buffer.from(
      `POST ${path} HTTP/1.1\r\nhost: ${HOST}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  });
  const lat: number[] = [];
  let errors = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  const queue: number[] = []; // due times of requests waiting for a free connection
  const idle: Conn[] = [];
  let sent = 0;
  let open = 0;
  interface Conn {
    socket: Socket;
    due: number;
    buf: Buffer;
  }
  const send = (c: Conn, due: number) => {
    c.due = due;
    c.socket.write(requests[sent++ & 255]!);
  };
  const done = (c: Conn, ok: boolean) => {
    if (!ok) errors++;
    if (c.due > start + 300) lat.push(performance.now() - c.due);
    const next = queue.shift();
    if (next !== undefined) send(c, next);
    else idle.push(c);
  };
  const conns = await Promise.all(
    Array.from(
      { length: connections },
      () =>
        new Promise<Conn>((resolve, reject) => {
          const socket = connect(port, HOST);
          socket.setNoDelay(true);
          const c: Conn = { socket, due: 0, buf: Buffer.alloc(0) };
          socket.on('data', (d: Buffer) => {
            c.buf = c.buf.length ? Buffer.concat([c.buf, d]) : d;
            for (;;) {
              const headEnd = c.buf.indexOf('\r\n\r\n');
              if (headEnd < 0) return;
              const head = c.buf.subarray(0, headEnd).toString('latin1');
              const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? Number.NaN);
              if (!Number.isFinite(length)) throw new Error(`no Content-Length in the answer:\n${head}`);
              if (c.buf.length < headEnd + 4 + length) return;
              c.buf = c.buf.subarray(headEnd + 4 + length);
              done(c, head.startsWith('HTTP/1.1 200'));
            }
          });
          socket.on('error', reject);
          socket.on('close', () => {
            open--;
          });
          socket.on('connect', () => {
            open++;
            resolve(c);
          });
        }),
    ),
  );
  idle.push(...conns);
  let i = 0;
  while (performance.now() < end) {
    for (let due = start + (i * 1000) / perSecond; due <= performance.now(); due = start + (i * 1000) / perSecond) {
      i++;
      // Round robin over the connections (FIFO): each stays in use, so none idles past the server's
      // keep-alive timeout and gets closed under the generator.
      const c = idle.shift();
      if (c) send(c, due);
      else queue.push(due);
    }
    await sleep(1);
  }
  const drainBy = performance.now() + 10_000;
  while ((idle.length < conns.length || queue.length) && open === conns.length && performance.now() < drainBy)
    await sleep(5);
  errors += queue.length + (conns.length - idle.length);
  for (const c of conns) c.socket.destroy();
  return { ...latencyCell(lat, lat.length / (seconds - 0.3), errors), lat };
}

/** Connection counts of the closed-loop phases; RATE_ONLY=1 runs only the fixed-rate rows (the one to
 * read for latency under attack) and the memory check, in about a third of the time. */
const CLOSED_LOOP = process.env.RATE_ONLY === '1' ? ([] as const) : ([16, 64] as const);
/** Rounds of (quiet, under the mix) at the fixed rate, `seconds` each (RATE_ROUNDS=n). */
const RATE_ROUNDS = Number(process.env.RATE_ROUNDS ?? 4);
/** Seconds each kind of bad request runs alone in the per-kind costs. */
const KIND_SECONDS = 3;
const cellOf = ({ rps, p50, p99, errors }: Cell): Cell => ({ rps, p50, p99, errors });

/** Normal traffic in the open-loop phases: well below what the gateway sustains on one core. */
const FIXED_RATE = 2_000;

const hasWrk = process.env.LOAD !== 'node' && spawnSync('wrk', ['--version']).error === undefined;
let wrkScript: string | undefined;

/** Closed-loop load with wrk: 2 threads, `concurrency` connections, latency percentiles from --latency. */
function wrkLoad(port: number, path: string, concurrency: number, seconds: number): Cell {
  const r = spawnSync(
    ...placed(
      'wrk',
      [
        '-t',
        String(Math.min(2, concurrency)),
        '-c',
        String(concurrency),
        '-d',
        `${seconds}s`,
        '--latency',
        '-s',
        wrkScript!,
        `http://${HOST}:${port}${path}`,
      ],
      LOAD_CPUS,
    ),
    { encoding: 'utf8', timeout: (seconds + 30) * 1000 },
  );
  const out = r.stdout ?? '';
  const ms = (v: string, unit: string) => Number(v) * ({ us: 1e-3, ms: 1, s: 1e3 } as Record<string, number>)[unit]!;
  const lat = (q: string) => {
    const m = new RegExp(`^\\s*${q}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(out);
    return m ? ms(m[1]!, m[2]!) : Number.NaN;
  };
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = non2xx + (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  if (!Number.isFinite(rps)) throw new Error(`could not read wrk's output:\n${out}\n${r.stderr}`);
  return { rps, p50: lat('50'), p99: lat('99'), errors };
}

const load = async (port: number, path: string, concurrency: number, seconds: number): Promise<Cell> =>
  hasWrk ? wrkLoad(port, path, concurrency, seconds) : nodeLoad(port, path, concurrency, seconds);

/** The peer without HTTP: the same model called in process, `concurrency` loops. */
async function directLoad(concurrency: number, seconds: number, weights: string): Promise<Cell> {
  const m = await bagOfBytesLoader.load(join(weights, MODEL, '2.0.0'), manifest().models[MODEL]!.versions['2.0.0']!);
  await m.warm();
  const lat: number[] = [];
  const start = performance.now();
  const end = start + seconds * 1000;
  let i = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        await m.predict(TEXTS[i++ & 255]);
        // The model is synchronous: yield so the loops interleave as requests would.
        await new Promise<void>((r) => setImmediate(r));
        if (t0 > start + 300) lat.push(performance.now() - t0);
      }
    }),
  );
  return latencyCell(lat, lat.length / (seconds - 0.3), 0);
}

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 5);
  if (!(seconds >= 1 && seconds <= 10)) throw new Error('seconds per phase: 1 to 10');
  const loadBefore = os.loadavg();
  // The in-process generators (rate and direct loads) run here: keep this process off the servers' CPU.
  if (PINNED) spawnSync('taskset', ['-a', '-p', '-c', LOAD_CPUS, String(process.pid)], { stdio: 'ignore' });
  const weights = mkdtempSync(join(tmpdir(), 'mg-load-'));
  writeDemoWeights(weights);
  if (hasWrk) {
    wrkScript = join(weights, 'post.lua');
    writeFileSync(
      wrkScript,
      `wrk.method = "POST"\nwrk.body = '{"inputs":"please order item number 7 for me"}'\nwrk.headers["Content-Type"] = "application/json"\n`,
    );
  }
  const bare = await startChild(['--serve', 'bare', weights]);
  const gateway = await startChild(['--serve', 'gateway', weights]);
  let floor: Awaited<ReturnType<typeof startChild>> | undefined;
  const cells: Record<string, Cell> = {};
  const mixes: Record<string, unknown> = {};
  let memStart: Stats;
  let memBefore: Stats;
  let memAfter: Stats;
  let loopQuiet: Stats['loopMs'] | undefined;
  const loopMix: Record<string, Stats['loopMs']> = {};
  const rateRounds: {
    quiet: Cell;
    mix: Cell;
    quietLoopMs: Stats['loopMs'];
    loopMs: Stats['loopMs'];
    bad: number;
    rssAfterGc: number;
  }[] = [];
  type KindCost = { requests: number; cpuUs: number; loopP99Ms: number; loopMaxMs: number };
  const perKind: Record<string, { gateway: KindCost; floor: KindCost }> = {};
  let clientAborts: number | undefined;
  let cpuPerBadUs: Record<string, number> = {};
  let cpuPerNormal = Number.NaN;
  try {
    const g = gateway.info;
    memStart = await stats(g.control, 'gc');
    // Warm-up (JIT, connection pools), not reported.
    await load(bare.info.port, '/', 16, 1);
    await load(g.port, PREDICT, 16, 1);
    for (const c of CLOSED_LOOP) {
      cells[`direct c${c}`] = await directLoad(c, seconds, weights);
      cells[`bare c${c}`] = await load(bare.info.port, '/', c, seconds);
      await stats(g.control, 'reset');
      cells[`gateway c${c}`] = await load(g.port, PREDICT, c, seconds);
      if (c === 16) loopQuiet = (await stats(g.control)).loopMs;
    }
    await sleep(1_000);
    memBefore = await stats(g.control, 'gc');
    // The server's CPU per normal request, quiet, to tell what the mix itself costs it.
    let t = await stats(g.control, 'reset');
    const quietCell = await load(g.port, PREDICT, 16, seconds);
    let u = await stats(g.control);
    const cpuPerNormalUs = (u.cpuUs - t.cpuUs) / (quietCell.rps * seconds);
    const mixCpu: Record<string, number> = {};
    for (const c of CLOSED_LOOP) {
      t = await stats(g.control, 'reset');
      const mixRun = runMix(g.port, seconds);
      const name = `gateway c${c} + mix`;
      cells[name] = await load(g.port, PREDICT, c, seconds);
      mixes[String(c)] = await mixRun;
      u = await stats(g.control);
      loopMix[String(c)] = u.loopMs;
      const bad = (mixes[String(c)] as { bad: number }).bad;
      mixCpu[String(c)] = (u.cpuUs - t.cpuUs - cells[name]!.rps * seconds * cpuPerNormalUs) / bad;
    }
    // The fixed-rate rows, quiet and under the mix, interleaved in rounds: what the machine itself
    // does meanwhile (other tenants of a VM, the kernel) falls on both alike, and a p99 of 10 s at
    // 2,000 req/s (the 200 slowest requests) is otherwise easily one noisy moment.
    const quiet: number[] = [];
    const mixed: number[] = [];
    let badCpuUs = 0;
    let badCount = 0;
    for (let r = 0; r < RATE_ROUNDS; r++) {
      await stats(g.control, 'reset');
      const q = await rateLoad(g.port, PREDICT, FIXED_RATE, seconds);
      const quietLoopMs = (await stats(g.control)).loopMs;
      t = await stats(g.control, 'reset');
      const mixRun = runMix(g.port, seconds);
      const m = await rateLoad(g.port, PREDICT, FIXED_RATE, seconds);
      const mixOut = (await mixRun) as { bad: number };
      u = await stats(g.control);
      const rssAfterGc = (await stats(g.control, 'gc')).rss;
      rateRounds.push({
        quiet: cellOf(q),
        mix: cellOf(m),
        quietLoopMs,
        loopMs: u.loopMs,
        bad: mixOut.bad,
        rssAfterGc,
      });
      mixes[`rate round ${r + 1}`] = mixOut;
      // One push per element: a spread of ~20,000 arguments per round nears V8's argument limit.
      for (const x of q.lat) quiet.push(x);
      for (const x of m.lat) mixed.push(x);
      badCpuUs += u.cpuUs - t.cpuUs - m.rps * seconds * cpuPerNormalUs;
      badCount += mixOut.bad;
    }
    const pooled = (lat: number[], rounds: Cell[]): Cell =>
      latencyCell(
        lat,
        rounds.reduce((a, c) => a + c.rps, 0) / rounds.length,
        rounds.reduce((a, c) => a + c.errors, 0),
      );
    cells[`gateway ${FIXED_RATE} req/s`] = pooled(
      quiet,
      rateRounds.map((r) => r.quiet),
    );
    cells[`gateway ${FIXED_RATE} req/s + mix`] = pooled(
      mixed,
      rateRounds.map((r) => r.mix),
    );
    mixCpu.rate = badCpuUs / badCount;
    cpuPerBadUs = mixCpu;
    cpuPerNormal = cpuPerNormalUs;
    await sleep(2_000);
    memAfter = await stats(g.control, 'gc');
    cells['gateway c16 after the burst'] = await load(g.port, PREDICT, 16, seconds);
    // What each kind costs the server alone (no normal traffic, no slow clients), then the slow
    // clients alone: its CPU per request and its event-loop delay meanwhile.
    const kindCost = async (server: { port: number; control: number }, kind: string) => {
      const slowOnly = kind === 'slow clients only';
      const before = await stats(server.control, 'gc&reset');
      const env: Record<string, string> = slowOnly ? { MIX: 'none' } : { MIX: kind, SLOW: '0' };
      const out = (await runMix(server.port, KIND_SECONDS, env)) as { bad: number };
      const after = await stats(server.control);
      return {
        requests: out.bad,
        cpuUs: (after.cpuUs - before.cpuUs) / (slowOnly ? KIND_SECONDS : out.bad),
        loopP99Ms: after.loopMs.p99,
        loopMaxMs: after.loopMs.max,
      };
    };
    floor = await startChild(['--serve', 'floor', weights]);
    for (const kind of [...MIX_KINDS, 'slow clients only'] as const)
      perKind[kind] = { gateway: await kindCost(g, kind), floor: await kindCost(floor.info, kind) };
    const aborts = /^model_gitops_client_aborts_total (\S+)$/m.exec(await get(g.port, '/metrics'));
    clientAborts = aborts ? Number(aborts[1]) : undefined;
  } finally {
    bare.stop();
    gateway.stop();
    floor?.stop();
    rmSync(weights, { recursive: true, force: true });
  }

  const ms = (x: number) => `${x.toFixed(2)} ms`;
  console.log(
    `gateway load over loopback (${hasWrk ? 'wrk, 2 threads' : 'in-process node:http keep-alive generator'}), ${seconds} s per phase; load average before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, ${CPUS} CPUs; ${PINNED ? `servers on CPU ${SERVER_CPUS}, load and mix (nice 10) on ${LOAD_CPUS}` : 'not pinned'}`,
  );
  console.log('| phase | requests/s | p50 | p99 | errors |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const [k, v] of Object.entries(cells))
    console.log(`| ${k} | ${v.rps.toFixed(0)} | ${ms(v.p50)} | ${ms(v.p99)} | ${v.errors} |`);
  const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
  for (const c of CLOSED_LOOP) {
    const gw = cells[`gateway c${c}`]!;
    const bareCell = cells[`bare c${c}`]!;
    const mixed = cells[`gateway c${c} + mix`]!;
    console.log(
      `c${c} (closed loop, saturating): gateway throughput ${ratio(gw.rps, bareCell.rps)} of bare HTTP, ${ratio(gw.rps, cells[`direct c${c}`]!.rps)} of in-process; p99 ${ratio(gw.p99, bareCell.p99)} of bare; ` +
        `normal p99 under the mix ${ratio(mixed.p99, gw.p99)} of quiet; server event-loop delay p99 ${ms(loopMix[String(c)]!.p99)} (quiet ${ms(loopQuiet!.p99)}), max ${ms(loopMix[String(c)]!.max)}`,
    );
  }
  const fixedQuiet = cells[`gateway ${FIXED_RATE} req/s`]!;
  const medianRatio = median(rateRounds.map((r) => r.mix.p99 / r.quiet.p99));
  const fixedMix = cells[`gateway ${FIXED_RATE} req/s + mix`]!;
  console.log(
    `${FIXED_RATE} req/s (open loop, below saturation, ${rateRounds.length} rounds of ${seconds} s quiet then ${seconds} s under the mix): normal p99 under the mix ${ratio(fixedMix.p99, fixedQuiet.p99)} of quiet (pooled p99s; goal <= 2x), median of the rounds' ratios ${medianRatio.toFixed(2)}x; per round ${rateRounds.map((r) => `${ms(r.quiet.p99)} -> ${ms(r.mix.p99)}`).join(', ')}; server event-loop delay p99 / max per round, quiet -> under the mix: ${rateRounds.map((r) => `${ms(r.quietLoopMs.p99)} / ${ms(r.quietLoopMs.max)} -> ${ms(r.loopMs.p99)} / ${ms(r.loopMs.max)}`).join(', ')}`,
  );
  console.log(
    `server CPU: ${cpuPerNormal.toFixed(0)} µs per normal request; per bad request of the mix ${Object.entries(
      cpuPerBadUs,
    )
      .map(([c, v]) => `${v.toFixed(0)} µs (${c === 'rate' ? 'open loop' : `c${c}`})`)
      .join(', ')}`,
  );
  const MiB = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  console.log(
    `server RSS after GC: start ${MiB(memStart.rss)}, before the burst ${MiB(memBefore.rss)}, after it (2 s idle) ${MiB(memAfter.rss)} (${ratio(memAfter.rss, memBefore.rss)}); heap used ${MiB(memBefore.heapUsed)} -> ${MiB(memAfter.heapUsed)}, Buffers ${MiB(memBefore.arrayBuffers)} -> ${MiB(memAfter.arrayBuffers)}; ` +
      `log lines during the burst ${memAfter.logs.lines - memBefore.logs.lines} (internal errors ${memAfter.logs.internalErrors - memBefore.logs.internalErrors}); client aborts counted ${clientAborts ?? 'n/a'}`,
  );
  console.log(
    `server RSS after GC after each round under the mix: ${rateRounds.map((r) => MiB(r.rssAfterGc)).join(', ')}`,
  );
  console.log(
    `\neach kind alone (${KIND_SECONDS} s, no other traffic), on the gateway and on the floor (a node:http server that refuses everything, bench/gateway-load.bench.ts floorServer):`,
  );
  console.log(
    '| kind | requests | server CPU per request: gateway / floor | event-loop delay p99 / max: gateway; floor |',
  );
  console.log('| --- | --- | --- | --- |');
  for (const [k, { gateway: gw, floor: fl }] of Object.entries(perKind)) {
    const cpu = (v: KindCost) =>
      k === 'slow clients only' ? `${(v.cpuUs / 1000).toFixed(1)} ms/s` : `${v.cpuUs.toFixed(0)} µs`;
    console.log(
      `| ${k} | ${gw.requests} / ${fl.requests} | ${cpu(gw)} / ${cpu(fl)} (${ratio(gw.cpuUs, fl.cpuUs)}) | ${ms(gw.loopP99Ms)} / ${ms(gw.loopMaxMs)}; ${ms(fl.loopP99Ms)} / ${ms(fl.loopMaxMs)} |`,
    );
  }
  for (const [c, m] of Object.entries(mixes)) console.log(`mix ${c}: ${JSON.stringify(m)}`);
  console.log(
    `load average after: ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  console.log(
    `\n${JSON.stringify({ bench: 'gateway-load', node: process.version, generator: hasWrk ? 'wrk' : 'node', pinned: PINNED ? { servers: SERVER_CPUS, load: LOAD_CPUS } : false, secondsPerPhase: seconds, loadAverageBefore: loadBefore, loadAverageAfter: os.loadavg(), cells, cpuPerNormalUs: cpuPerNormal, cpuPerBadUs, loopQuiet, loopMix, rateRounds, perKind, memory: { start: memStart, before: memBefore, after: memAfter }, clientAborts, mixes })}`,
  );
}

if (process.argv[2] === '--serve') await serve(process.argv[3]!, process.argv[4]!);
else if (process.argv[2] === '--mix') await mix(Number(process.argv[3]), Number(process.argv[4]));
else await main();
