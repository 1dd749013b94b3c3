// The gateway's event stream: kept in memory for status(), written as one JSON line each, and handed
// to the caller's listener, whose bugs must never break serving.
import type { GatewayEvent } from './types.ts';

/** Events kept in memory (Gateway.events). */
const EVENT_HISTORY = 1000;

export class EventLog {
  readonly events: GatewayEvent[] = [];
  private readonly onEvent: ((event: GatewayEvent) => void) | undefined;
  private readonly write: (line: string) => void;

  constructor(options: { onEvent?: (event: GatewayEvent) => void; log?: (line: string) => void }) {
    this.onEvent = options.onEvent;
    this.write = options.log ?? ((line) => process.stderr.write(`${line}\n`));
  }

  emit(event: GatewayEvent): void {
    this.events.push(event);
    if (this.events.length > EVENT_HISTORY) this.events.splice(0, this.events.length - EVENT_HISTORY);
    this.log(event);
    try {
      this.onEvent?.(event);
    } catch {
      /* a listener's bug must not break serving */
    }
  }

  /** One JSON line (events and operational notes such as a failed state write). */
  log(obj: object): void {
    this.write(JSON.stringify(obj));
  }
}
