// A worker process the gateway starts and owns (the PyTorch worker, vllm serve): started with its output
// captured for the reason a failed start gives, ready when it says so (a READY line or a health URL),
// stopped with SIGTERM and, after a bound, SIGKILL.
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';

export interface ManagedProcess {
  readonly child: ChildProcess;
  /** The last lines it wrote (for error messages). */
  tail(): string;
  /** Resolves when it has exited. */
  readonly exited: Promise<number | null>;
  /** Set when the program could not be started at all (ENOENT: not installed). */
  spawnError(): NodeJS.ErrnoException | undefined;
  stop(graceMs?: number): Promise<void>;
}

const TAIL_BYTES = 2000;

export function startProcess(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): ManagedProcess {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  let spawnError: NodeJS.ErrnoException | undefined;
  const keep = (c: Buffer) => {
    out = (out + c.toString('utf8')).slice(-TAIL_BYTES);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', (e) => {
      spawnError = e;
      keep(Buffer.from(`\n${e.message}`));
      resolve(null);
    });
  });
  return {
    child,
    tail: () => out.trim().split('\n').slice(-8).join('\n'),
    exited,
    spawnError: () => spawnError,
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Waits for a line `READY <port>` on stdout; rejects with the output tail when it exits or times out first. */
export function waitForReadyLine(p: ManagedProcess, what: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(
      () => done(new Error(`${what} was not ready within ${timeoutMs} ms: ${p.tail() || 'no output'}`)),
      timeoutMs,
    );
    const onData = (c: Buffer) => {
      buf += c.toString('utf8');
      const m = /^READY (\d+)$/m.exec(buf);
      if (m) done(undefined, Number(m[1]));
    };
    const done = (e?: Error, port?: number) => {
      clearTimeout(timer);
      p.child.stdout!.off('data', onData);
      if (e) reject(e);
      else resolve(port!);
    };
    p.child.stdout!.on('data', onData);
    void p.exited.then((code) =>
      done(new Error(`${what} exited (code ${code}) before it was ready: ${p.tail() || 'no output'}`)),
    );
  });
}

/** Polls `url` until it answers 200; rejects when the process exits or the time runs out. */
export async function waitForHealth(p: ManagedProcess, url: string, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void p.exited.then(() => {
    exited = true;
  });
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${what} exited before it was ready: ${p.tail() || 'no output'}`);
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await r.body?.cancel();
      if (r.status === 200) return;
      last = `HTTP ${r.status}`;
    } catch (e) {
      last = String((e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} was not ready within ${timeoutMs} ms (${url}: ${last}): ${p.tail() || 'no output'}`);
}

/** A TCP port free right now on 127.0.0.1 (for a server that cannot pick its own and report it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}
