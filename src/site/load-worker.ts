// Worker thread of parallel-load.ts: loads one share of the registry's files and posts the result.
import { parentPort, workerData } from 'node:worker_threads';
import { type LoadShare, loadShare } from './parallel-load.ts';

const share = workerData as LoadShare;
// Buffers arrive as Uint8Array after the structured clone; the loader expects Buffers.
for (const e of share.entries)
  if (e.bytes) e.bytes = Buffer.from(e.bytes.buffer, e.bytes.byteOffset, e.bytes.byteLength);
parentPort!.postMessage(loadShare(share));
