// `node bench/observe.bench.ts` (or `npm run bench observe`)
//
// 1. Per-request CPU of what the gateway adds for evaluation and experiments: the window counters and
//    request id (Observations.record) and one feedback record (FeedbackStore.record), measured as
//    thread CPU over millions of calls, against the CPU of one plain HTTP request/response over
//    loopback measured in the same run (a bare node:http server, keep-alive: the floor any gateway
//    request pays). Goal: under 2 µs per request.
// 2. The A/A false-positive rate of the always-valid test (mSPRT) under continuous peeking, next to a
//    fixed-horizon z-test peeked at the same moments (the peer it replaces), and
// 3. the power table: share of seeded experiments that declared the challenger by n outcomes per arm,
//    for true relative lifts of 2%, 5% and 10% on a 50% base rate.
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { mulberry32 } from '../src/lib/prng.ts';
import { Observations } from '../src/observe/observations.ts';
import { addOutcome, emptyArm, simulateBernoulli, variance } from '../src/observe/sequential.ts';

const cpuUs = () => {
  const c = process.threadCpuUsage();
  return c.user + c.system;
};

function perCall(label: string, n: number, fn: (i: number) => void): number {
  for (let i = 0; i < Math.min(n, 200_000); i++) fn(i); // warm-up (JIT)
  const rounds: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t0 = cpuUs();
    for (let i = 0; i < n; i++) fn(i);
    rounds.push(((cpuUs() - t0) * 1000) / n);
  }
  rounds.sort((a, b) => a - b);
  const ns = rounds[2]!;
  console.log(`${label.padEnd(48)} ${ns.toFixed(0).padStart(6)} ns/call (median of 5 rounds of ${n.toLocaleString()})`);
  return ns;
}

// ---- 1. hot-path cost -------------------------------------------------------------------------------
const LABELS = ['greet', 'order', 'cancel_order', 'other'];
const VERSIONS = ['2.0.0', '2.1.0'];
const obs = new Observations({ feedbackCapacity: 100_000 });
const t = Date.now();
const ids: string[] = new Array(1 << 16);
const recordNs = perCall('record (counters + request id)', 2_000_000, (i) => {
  ids[i & 0xffff] = obs.record('intent-classifier', VERSIONS[i & 1]!, LABELS[i & 3]!, 20 + (i & 63), -1, t + (i >> 10));
});
const feedbackNs = perCall('feedback record (lookup + arm update)', 2_000_000, (i) => {
  obs.feedback.record(ids[i & 0xffff]!, i & 1);
});
const llmNs = perCall('record with a token count (LLM: finish reason)', 2_000_000, (i) => {
  obs.record('assistant', '1.0.0', i & 7 ? 'stop' : 'length', 50 + (i & 255), 30 + (i & 127), t + (i >> 10));
});

// Peer in the same run: CPU of one HTTP request/response on loopback (server + client in this thread).
const server = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': 2 });
  res.end('{}');
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const port = (server.address() as AddressInfo).port;
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
const one = () =>
  new Promise<void>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', method: 'POST', agent }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', reject);
    req.end('{"inputs":"hello"}');
  });
for (let i = 0; i < 2000; i++) await one();
const httpRounds: number[] = [];
for (let r = 0; r < 3; r++) {
  const t0 = cpuUs();
  for (let i = 0; i < 5000; i++) await one();
  httpRounds.push((cpuUs() - t0) / 5000);
}
httpRounds.sort((a, b) => a - b);
const httpUs = httpRounds[1]!;
agent.destroy();
server.close();
const addedUs = (recordNs + feedbackNs) / 1000;
console.log(
  `\nloopback HTTP request (client + server, one thread): ${httpUs.toFixed(1)} µs CPU per request (median of 3 x 5,000)`,
);
console.log(
  `added per request: ${addedUs.toFixed(2)} µs (record + one feedback) = ${((100 * addedUs) / httpUs).toFixed(2)}% of the loopback request; goal < 2 µs: ${addedUs < 2 ? 'met' : 'NOT met'}`,
);

// ---- 2. A/A false positives under peeking --------------------------------------------------------------
const BASE = 0.5;
const opts = { alpha: 0.05, tau: BASE * 0.05, minSamples: 500, every: 100 };
const AA = 2000;
let msprt = 0,
  naive = 0;
for (let i = 0; i < AA; i++) {
  if (simulateBernoulli(mulberry32(1000 + i), BASE, BASE, { ...opts, horizon: 20_000 }).verdict !== 'inconclusive')
    msprt++;
  const rng = mulberry32(1000 + i);
  const a = emptyArm(),
    b = emptyArm();
  for (let n = 1; n <= 20_000; n++) {
    addOutcome(a, rng() < BASE ? 1 : 0);
    addOutcome(b, rng() < BASE ? 1 : 0);
    if (n % 100 === 0 && n >= 500) {
      const z = (b.sum - a.sum) / n / Math.sqrt(variance(a) / n + variance(b) / n);
      if (Math.abs(z) > 1.96) {
        naive++;
        break;
      }
    }
  }
}
console.log(
  `\nA/A, ${AA} seeded experiments, base rate ${BASE}, a look every 100 outcomes per arm from 500 to 20,000 (196 looks):`,
);
console.log(
  `  mSPRT (alpha 0.05, tau = 5% of base): declared a winner in ${msprt}/${AA} = ${((100 * msprt) / AA).toFixed(2)}%`,
);
console.log(
  `  fixed-horizon z-test, same looks:    declared a winner in ${naive}/${AA} = ${((100 * naive) / AA).toFixed(2)}%`,
);

// ---- 3. power table ------------------------------------------------------------------------------------
const SIMS = 400;
const HORIZON = 60_000;
const COLUMNS = [2_000, 5_000, 10_000, 20_000, 40_000, 60_000];
console.log(
  `\npower: share of ${SIMS} seeded experiments that declared the challenger by n outcomes per arm (base ${BASE}, alpha 0.05)`,
);
console.log(`| lift | ${COLUMNS.map((c) => `n=${c.toLocaleString()}`).join(' | ')} | median n to decide |`);
console.log(`|---|${COLUMNS.map(() => '---:').join('|')}|---:|`);
let wrongWay = 0;
for (const lift of [0.02, 0.05, 0.1]) {
  const decided: number[] = [];
  for (let i = 0; i < SIMS; i++) {
    const r = simulateBernoulli(mulberry32(50_000 + i), BASE, BASE * (1 + lift), {
      ...opts,
      tau: BASE * 0.05,
      horizon: HORIZON,
    });
    decided.push(r.verdict === 'challenger' ? r.samples : Number.POSITIVE_INFINITY);
    if (r.verdict === 'champion') wrongWay++;
  }
  decided.sort((a, b) => a - b);
  const median = decided[SIMS >> 1]!;
  const cells = COLUMNS.map((c) => `${((100 * decided.filter((d) => d <= c).length) / SIMS).toFixed(0)}%`);
  console.log(
    `| +${(100 * lift).toFixed(0)}% | ${cells.join(' | ')} | ${Number.isFinite(median) ? median.toLocaleString() : `> ${HORIZON.toLocaleString()}`} |`,
  );
}
console.log(`experiments with a true lift that called the champion: ${wrongWay} / ${3 * SIMS}`);
console.log(
  `\nmachine: ${os.cpus().length} CPUs, load average ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
