// Request ids and the outcomes fed back for them. Ids are `<prefix><sequence in base 36>`: the
// sequence picks a slot of a fixed ring (capacity entries), so lookups are O(1), memory is bounded,
// and the oldest unanswered request is evicted by the newest one. The prefix is random per process,
// so an id from a previous gateway run is never mistaken for one of this run. What was dropped is
// counted, never silent: feedback for an evicted, unknown or already answered id is refused and counted.
import { randomBytes } from 'node:crypto';
import { addOutcome, type ArmStats, emptyArm } from './sequential.ts';

export type FeedbackResult = 'recorded' | 'unknown' | 'evicted' | 'duplicate';

export interface FeedbackCounts {
  capacity: number;
  issued: number;
  recorded: number;
  unknown: number;
  /** Feedback that came after its request left the ring. */
  evicted: number;
  duplicate: number;
  /** Requests pushed out of the ring before any feedback arrived. */
  expiredUnanswered: number;
}

const EMPTY = 0,
  PENDING = 1,
  ANSWERED = 2;

export class FeedbackStore {
  readonly prefix: string;
  readonly capacity: number;
  private readonly seqs: Float64Array;
  private readonly arm: Int32Array;
  private readonly state: Uint8Array;
  /** Arm index -> its outcome statistics (arms are the gateway's model versions). */
  readonly arms: ArmStats[] = [];
  private next = 1;
  readonly counts: FeedbackCounts;

  constructor(capacity: number, prefix = `${randomBytes(4).toString('hex')}-`) {
    if (!Number.isSafeInteger(capacity) || capacity < 1)
      throw new RangeError(`feedback capacity must be a whole number >= 1, got ${capacity}`);
    if (!/^[0-9a-z]{1,16}-$/.test(prefix))
      throw new RangeError(`request id prefix must be [0-9a-z]{1,16}-, got "${prefix}"`);
    this.prefix = prefix;
    this.capacity = capacity;
    this.seqs = new Float64Array(capacity);
    this.arm = new Int32Array(capacity);
    this.state = new Uint8Array(capacity);
    this.counts = { capacity, issued: 0, recorded: 0, unknown: 0, evicted: 0, duplicate: 0, expiredUnanswered: 0 };
  }

  /** A new arm (a model version); returns its index. */
  addArm(): number {
    this.arms.push(emptyArm());
    return this.arms.length - 1;
  }

  /** Issues the id of one answered request served by arm `arm`. */
  issue(arm: number): string {
    const seq = this.next++;
    const slot = seq % this.capacity;
    if (this.state[slot] === PENDING) this.counts.expiredUnanswered++;
    this.seqs[slot] = seq;
    this.arm[slot] = arm;
    this.state[slot] = PENDING;
    this.counts.issued++;
    return this.prefix + seq.toString(36);
  }

  /** The arm a live id was issued to, or undefined when it is unknown or evicted. */
  armOf(requestId: string): number | undefined {
    const seq = this.sequence(requestId);
    if (seq === undefined) return undefined;
    const slot = seq % this.capacity;
    return this.seqs[slot] === seq && this.state[slot] !== EMPTY ? this.arm[slot] : undefined;
  }

  private sequence(requestId: string): number | undefined {
    if (requestId.length > 64 || !requestId.startsWith(this.prefix)) return undefined;
    const tail = requestId.slice(this.prefix.length);
    if (!/^[0-9a-z]{1,11}$/.test(tail)) return undefined;
    const seq = Number.parseInt(tail, 36);
    return seq >= 1 && seq < this.next ? seq : undefined;
  }

  /** Records one outcome (0/1 or a value) for a request id. */
  record(requestId: string, value: number): FeedbackResult {
    if (!Number.isFinite(value)) throw new RangeError(`feedback value must be a finite number, got ${value}`);
    const seq = this.sequence(requestId);
    if (seq === undefined) {
      this.counts.unknown++;
      return 'unknown';
    }
    const slot = seq % this.capacity;
    if (this.seqs[slot] !== seq) {
      this.counts.evicted++;
      return 'evicted';
    }
    if (this.state[slot] === ANSWERED) {
      this.counts.duplicate++;
      return 'duplicate';
    }
    this.state[slot] = ANSWERED;
    addOutcome(this.arms[this.arm[slot]!]!, value);
    this.counts.recorded++;
    return 'recorded';
  }

  pending(): number {
    let n = 0;
    for (let i = 0; i < this.capacity; i++) if (this.state[i] === PENDING) n++;
    return n;
  }
}
