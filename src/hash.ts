// Fast whole-file sha256: one reused large buffer, positional reads, node:crypto (SHA-NI when the CPU has it).
// 8 MiB reads measured fastest here (1 MiB: -25%; 16 MiB: same as 8).
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';

export const HASH_BUFFER_BYTES = 8 * 1024 * 1024;

export interface HashFileOptions {
  bufferSize?: number;
  /** Called with each chunk (valid only during the call) and its file offset, in order. */
  onData?: (chunk: Buffer, position: number) => void;
}

export async function hashFile(file: string, options: HashFileOptions = {}): Promise<{ sha256: string; size: number }> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(options.bufferSize ?? HASH_BUFFER_BYTES);
    const h = createHash('sha256');
    let pos = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) break;
      const chunk = buf.subarray(0, bytesRead);
      h.update(chunk);
      options.onData?.(chunk, pos);
      pos += bytesRead;
    }
    return { sha256: h.digest('hex'), size: pos };
  } finally {
    await fh.close();
  }
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
