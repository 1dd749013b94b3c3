// Fast whole-file sha256: one reused large buffer, positional reads, node:crypto (SHA-NI when the CPU has it).
// 8 MiB reads measured fastest here (1 MiB: -25%; 16 MiB: same as 8).
import { createHash, type Hash } from 'node:crypto';
import { open } from 'node:fs/promises';

export const HASH_BUFFER_BYTES = 8 * 1024 * 1024;

export interface HashFileOptions {
  bufferSize?: number;
  /** Called with each chunk (valid only during the call) and its file offset, in order. */
  onData?: (chunk: Buffer, position: number) => void;
}

/** Reads `file` in order (up to `end`, default all of it) with one reused buffer; each chunk is valid only during its onData call. Returns the bytes read. */
export async function readChunks(
  file: string,
  onData: (chunk: Buffer, position: number) => void,
  options: { bufferSize?: number; end?: number } = {},
): Promise<number> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(options.bufferSize ?? HASH_BUFFER_BYTES);
    const end = options.end ?? Infinity;
    let pos = 0;
    while (pos < end) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, end - pos), pos);
      if (bytesRead === 0) break;
      onData(buf.subarray(0, bytesRead), pos);
      pos += bytesRead;
    }
    return pos;
  } finally {
    await fh.close();
  }
}

export async function hashFile(file: string, options: HashFileOptions = {}): Promise<{ sha256: string; size: number }> {
  const h = createHash('sha256');
  const size = await readChunks(
    file,
    (chunk, pos) => {
      h.update(chunk);
      options.onData?.(chunk, pos);
    },
    options.bufferSize ? { bufferSize: options.bufferSize } : {},
  );
  return { sha256: h.digest('hex'), size };
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * sha256 of each of several byte ranges of a stream fed in file order, so one read gives a file's hash
 * and its tensors' hashes. Ranges must be sorted by start and must not overlap.
 */
export class RangeHasher {
  private readonly ranges: readonly { start: number; end: number }[];
  private readonly hashes: (Hash | undefined)[];
  private readonly fed: number[];
  private k = 0; // first range not yet finished

  constructor(ranges: readonly { start: number; end: number }[]) {
    for (let i = 1; i < ranges.length; i++)
      if (ranges[i]!.start < ranges[i - 1]!.end)
        throw new Error('RangeHasher: ranges must be sorted and must not overlap');
    this.ranges = ranges;
    this.hashes = ranges.map(() => undefined);
    this.fed = ranges.map(() => 0);
  }

  /** `chunk` holds the stream's bytes at [position, position + chunk.length); calls must come in order, without gaps. */
  feed(chunk: Uint8Array, position: number): void {
    const chunkEnd = position + chunk.length;
    while (this.k < this.ranges.length) {
      const r = this.ranges[this.k]!;
      if (r.start >= chunkEnd) return;
      const from = Math.max(r.start, position);
      const to = Math.min(r.end, chunkEnd);
      if (to > from) {
        (this.hashes[this.k] ??= createHash('sha256')).update(chunk.subarray(from - position, to - position));
        this.fed[this.k]! += to - from;
      }
      if (r.end > chunkEnd) return;
      this.k++;
    }
  }

  /** Hex digests in the ranges' order; undefined for a range whose bytes were not all fed. Call once. */
  digests(): (string | undefined)[] {
    return this.ranges.map((r, i) =>
      this.fed[i] === r.end - r.start ? (this.hashes[i] ?? createHash('sha256')).digest('hex') : undefined,
    );
  }
}
