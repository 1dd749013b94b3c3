// Proving tensor ranges: while a file's bytes pass by in order (for its whole-file sha256), the same
// bytes are hashed per tensor range, so the (unsigned) index's per-tensor digests are checked against
// real bytes before any range enters the local tensor index. One read serves both.
import { createHash } from 'node:crypto';
import { RangeHasher, readChunks } from '../lib/hash.ts';

export interface ClaimedRange {
  start: number;
  end: number;
  sha256: string;
}
export interface Proof {
  sha256: string;
  size: number;
  proven: boolean[];
}

/** Checks claimed ranges (any order, not overlapping) of a byte stream fed in file order. */
export class RangeProver {
  private readonly order: number[]; // sorted position -> index in the claims
  private readonly hasher: RangeHasher;
  private readonly claims: ClaimedRange[];

  constructor(claims: ClaimedRange[]) {
    this.claims = claims;
    this.order = claims
      .map((_, i) => i)
      .sort((a, b) => claims[a]!.start - claims[b]!.start || claims[a]!.end - claims[b]!.end);
    this.hasher = new RangeHasher(this.order.map((i) => claims[i]!));
  }

  feed(chunk: Uint8Array, position: number): void {
    this.hasher.feed(chunk, position);
  }

  /** proven[i]: claim i's bytes were all fed and hash to what it claims. Call once, after the last feed. */
  result(): boolean[] {
    const proven = this.claims.map(() => false);
    this.hasher.digests().forEach((d, k) => {
      proven[this.order[k]!] = d === this.claims[this.order[k]!]!.sha256;
    });
    return proven;
  }
}

/** A file's sha256 and size and its claims' proofs, from its bytes fed once, in file order, without gaps. */
export class FileProver {
  private readonly whole = createHash('sha256');
  private readonly claims: RangeProver;
  private size = 0;

  constructor(claims: ClaimedRange[]) {
    this.claims = new RangeProver(claims);
  }

  feed(chunk: Uint8Array, position: number): void {
    if (position !== this.size) throw new Error(`FileProver: bytes fed at ${position}, expected ${this.size}`);
    this.whole.update(chunk);
    this.claims.feed(chunk, position);
    this.size += chunk.length;
  }

  /** Call once, after the last feed. */
  result(): Proof {
    return { sha256: this.whole.digest('hex'), size: this.size, proven: this.claims.result() };
  }
}

/** One read of a file: its sha256 and size, and which claimed ranges hash to what they claim. */
export async function proveFile(path: string, claims: ClaimedRange[] = []): Promise<Proof> {
  const prover = new FileProver(claims);
  await readChunks(path, (chunk, pos) => prover.feed(chunk, pos));
  return prover.result();
}
