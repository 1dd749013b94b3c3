// Proving tensor ranges: while a file's bytes pass by in order (for its whole-file sha256), the same
// bytes are hashed per tensor range, so the (unsigned) index's per-tensor digests are checked against
// real bytes before any range enters the local tensor index. One read serves both.
import { hashFile, RangeHasher } from '../hash.ts';

export interface ClaimedRange { start: number; end: number; sha256: string }
export interface Proof { sha256: string; size: number; proven: boolean[] }

/** Checks claimed ranges (any order, not overlapping) of a byte stream fed in file order. */
export class RangeProver {
  private readonly order: number[]; // sorted position -> index in the claims
  private readonly hasher: RangeHasher;
  private readonly claims: ClaimedRange[];

  constructor(claims: ClaimedRange[]) {
    this.claims = claims;
    this.order = claims.map((_, i) => i).sort((a, b) => claims[a]!.start - claims[b]!.start);
    this.hasher = new RangeHasher(this.order.map((i) => claims[i]!));
  }

  feed(chunk: Uint8Array, position: number): void {
    this.hasher.feed(chunk, position);
  }

  /** proven[i]: claim i's bytes were all fed and hash to what it claims. Call once, after the last feed. */
  result(): boolean[] {
    const proven = this.claims.map(() => false);
    this.hasher.digests().forEach((d, k) => { proven[this.order[k]!] = d === this.claims[this.order[k]!]!.sha256; });
    return proven;
  }
}

/** One read of a file: its sha256 and size, and which claimed ranges hash to what they claim. */
export async function proveFile(path: string, claims: ClaimedRange[] = []): Promise<Proof> {
  const prover = new RangeProver(claims);
  const { sha256, size } = await hashFile(path, { onData: (chunk, pos) => prover.feed(chunk, pos) });
  return { sha256, size, proven: prover.result() };
}
