// A one-line progress bar on a terminal (stderr): bytes done of total, send rate, files, current file.
// Redrawn at most every 100 ms; nothing at all is drawn when the stream is not a TTY.
import { formatBytes, formatRate } from '../lib/format.ts';

export class ProgressLine {
  private readonly stream: NodeJS.WriteStream;
  private readonly started = performance.now();
  private last = 0;
  private drawn = false;
  readonly enabled: boolean;

  constructor(stream: NodeJS.WriteStream, enabled: boolean) {
    this.stream = stream;
    this.enabled = enabled && Boolean(stream.isTTY);
  }

  /** `done`/`total` in bytes (or items when `unit` is not bytes); `sent` drives the rate. */
  update(
    state: { done: number; total: number; sent?: number; label: string; count?: string; bytes?: boolean },
    force = false,
  ): void {
    if (!this.enabled) return;
    const now = performance.now();
    if (!force && now - this.last < 100) return;
    this.last = now;
    const frac = state.total > 0 ? Math.min(1, state.done / state.total) : 1;
    const width = 24;
    const fill = Math.round(frac * width);
    const bar = `[${'#'.repeat(fill)}${'-'.repeat(width - fill)}]`;
    const pct = `${(frac * 100).toFixed(0).padStart(3)}%`;
    const amount =
      state.bytes === false ? `${state.done}/${state.total}` : `${formatBytes(state.done)}/${formatBytes(state.total)}`;
    const secs = (now - this.started) / 1000;
    const rate = state.sent !== undefined && secs > 0 ? `  ${formatRate(state.sent / secs)}` : '';
    const count = state.count ? `  ${state.count}` : '';
    const cols = this.stream.columns ?? 100;
    let line = `${bar} ${pct}  ${amount}${rate}${count}  ${state.label}`;
    if (line.length > cols - 1) line = line.slice(0, cols - 2) + '…';
    this.stream.write(`\r\u001b[K${line}`);
    this.drawn = true;
  }

  /** Erase the line so the final report starts clean. */
  finish(): void {
    if (this.enabled && this.drawn) this.stream.write('\r\u001b[K');
    this.drawn = false;
  }
}
