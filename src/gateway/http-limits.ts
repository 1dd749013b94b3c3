// The HTTP layer's limits (timeouts, connection cap, body limit) with their defaults, and the counters
// of what the limits refused, rendered in the Prometheus text.
import { UserError } from '../lib/errors.ts';
import { GATEWAY_DEFAULTS } from './defaults.ts';
import { type MetricFamily, renderPrometheus } from './metrics.ts';

/** The HTTP layer's limits; every one defaults to GATEWAY_DEFAULTS (see there for why each value). */
export interface HttpLimits {
  /** Bodies above this: 413, at once when Content-Length declares it, else as soon as it passes. */
  maxBodyBytes: number;
  /** Request line and headers must arrive within this (Node's headersTimeout): else 408 and close. */
  headersTimeoutMs: number;
  /** A body must arrive within this once the headers are in: else 408 and close. */
  bodyTimeoutMs: number;
  /** The whole request, headers and body (Node's requestTimeout): else 408 and close. */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** A connection without traffic either way for this long is closed (server.timeout). */
  idleTimeoutMs: number;
  /** Connections open at once (server.maxConnections); more are closed as they arrive. */
  maxConnections: number;
  /** Request line plus headers above this: 431 (Node's maxHeaderSize). */
  maxHeaderBytes: number;
  /** After refusing a body it did not read whole: how long to keep reading and dropping before closing. */
  lingerMs: number;
  /** ...and how much to drop at most before it stops reading. */
  lingerBytes: number;
}

const LIMIT_KEYS = [
  'maxBodyBytes',
  'headersTimeoutMs',
  'bodyTimeoutMs',
  'requestTimeoutMs',
  'keepAliveTimeoutMs',
  'idleTimeoutMs',
  'maxConnections',
  'maxHeaderBytes',
  'lingerMs',
  'lingerBytes',
] as const satisfies readonly (keyof HttpLimits)[];

/** The defaults with `overrides` applied (undefined keeps the default), checked. */
export function httpLimits(overrides: Partial<HttpLimits> = {}): HttpLimits {
  const limits = {} as HttpLimits;
  for (const k of LIMIT_KEYS) {
    const v = overrides[k] ?? GATEWAY_DEFAULTS[k];
    if (!Number.isSafeInteger(v) || v < (k === 'maxBodyBytes' || k === 'maxConnections' ? 1 : 0))
      throw new UserError(`HTTP limit ${k} must be a whole number >= ${k === 'maxBodyBytes' ? 1 : 0}, got ${v}`);
    limits[k] = v;
  }
  if (limits.requestTimeoutMs > 0 && limits.headersTimeoutMs > limits.requestTimeoutMs)
    throw new UserError(
      `the headers timeout (${limits.headersTimeoutMs} ms) cannot be longer than the request timeout (${limits.requestTimeoutMs} ms), which includes it`,
    );
  return limits;
}

/** What the HTTP layer counts itself (the core counts predictions), appended to GET /metrics. */
export class HttpStats {
  /** Requests whose connection closed before their answer was complete: hung up mid-body or while waiting. */
  clientAborts = 0;
  /** Connections closed on arrival because maxConnections were open. */
  connectionsDropped = 0;
  /** Requests answered 408 or closed because headers or body did not arrive in time. */
  requestTimeouts = 0;
}

/** The prometheus families of HttpStats. */
export function httpMetricsText(stats: HttpStats): string {
  const counter = (name: string, help: string, value: number): MetricFamily => ({
    name,
    help,
    type: 'counter',
    samples: [['', {}, value]],
  });
  return renderPrometheus([
    counter(
      'model_gitops_client_aborts_total',
      'Requests whose client closed the connection before the answer was complete (mid-body or while waiting); not errors of the gateway.',
      stats.clientAborts,
    ),
    counter(
      'model_gitops_connections_dropped_total',
      'Connections closed on arrival because the connection cap (maxConnections) was reached.',
      stats.connectionsDropped,
    ),
    counter(
      'model_gitops_request_timeouts_total',
      'Requests answered 408 or closed because their headers or body did not arrive in time.',
      stats.requestTimeouts,
    ),
  ]);
}
