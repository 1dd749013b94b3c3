// A loaded version and its in-flight count. A slot is closed exactly once, and only after it has been
// retired and its last request has finished: the count is taken synchronously with the routing
// decision, so no request can pick a slot that is already closed.
import type { LoadedModel } from './loaders.ts';

export interface Slot {
  model: string;
  version: string;
  loaded: LoadedModel;
  inflight: number;
  retired: boolean;
  /** Aborted when the drain bound runs out: open generations stop and the slot closes. */
  abort: AbortController;
  drainTimer?: NodeJS.Timeout;
  closed?: Promise<void>;
  /** Set by closeAll() while the slot still drains. */
  onClosed?: () => void;
}

/** Every slot not closed yet, including retired ones still draining. */
export class Slots {
  private readonly live = new Set<Slot>();
  /** Told when a slot has closed, with the error when its model's close() failed. */
  private readonly closed: (slot: Slot, error?: unknown) => void;

  private readonly drainMs: number;

  constructor(closed: (slot: Slot, error?: unknown) => void, drainMs = 30_000) {
    this.closed = closed;
    this.drainMs = drainMs;
  }

  add(model: string, version: string, loaded: LoadedModel): Slot {
    const slot: Slot = { model, version, loaded, inflight: 0, retired: false, abort: new AbortController() };
    this.live.add(slot);
    return slot;
  }

  /** No new request will route to it; it closes once idle. */
  retire(slot: Slot): void {
    slot.retired = true;
    if (slot.inflight === 0) void this.close(slot);
    else this.boundDrain(slot);
  }

  /** Open requests (streams above all) may hold a retired slot only so long. */
  private boundDrain(slot: Slot): void {
    slot.drainTimer ??= setTimeout(() => slot.abort.abort(new Error('drain bound reached')), this.drainMs);
    slot.drainTimer.unref();
  }

  /** After a request on `slot` finished: a retired slot closes with its last request. */
  release(slot: Slot): void {
    if (slot.retired && slot.inflight === 0) void this.close(slot);
  }

  close(slot: Slot): Promise<void> {
    this.live.delete(slot);
    clearTimeout(slot.drainTimer);
    slot.closed ??= slot.loaded
      .close()
      .then(
        () => this.closed(slot),
        (e: unknown) => this.closed(slot, e),
      )
      .finally(() => slot.onClosed?.());
    return slot.closed;
  }

  /** Retire every slot and wait until each has drained and closed. */
  closeAll(): Promise<void> {
    return Promise.all(
      [...this.live].map((s) => {
        s.retired = true;
        if (s.inflight === 0) return this.close(s);
        this.boundDrain(s);
        return new Promise<void>((resolve) => {
          s.onClosed = resolve;
        });
      }),
    ).then(() => undefined);
  }
}
