// Every default of the gateway's options, in one place: the code that applies a default reads it
// from here, and `model-gitops serve` takes its own from here instead of repeating the numbers.
export const GATEWAY_DEFAULTS = {
  /** Request bodies above this are refused with 413 (GatewayOptions.maxBodyBytes): a prediction or
   * chat request is a few KB; 1 MiB leaves room for large batches while one request never costs more. */
  maxBodyBytes: 1024 * 1024,
  /** The interface listen() binds: loopback, so a gateway is never exposed by accident. */
  host: '127.0.0.1',
  /** Per upstream request of a proxied version (ProxyOptions.timeoutMs). */
  proxyTimeoutMs: 60_000,
  /** Upstream bodies above this are refused, so a misbehaving server cannot exhaust memory (ProxyOptions.maxResponseBytes). */
  proxyMaxResponseBytes: 16 * 1024 * 1024,
  /** FolderVersionSource checks every file's size and sha256 against the manifest entry. */
  verifyFolders: true,
  /** Completed requests a rollout rule waits for before judging error rate and latency (RolloutRule.minRequests). */
  minRequests: 50,
  /** A retired version's open requests and streams may run this long after a swap; then they are
   * aborted and the version closes (GatewayOptions.drainTimeoutMs). Long enough for a typical chat
   * answer to finish, short enough that two large models are not held in memory for minutes. */
  drainTimeoutMs: 30_000,

  // ---- HTTP limits (HttpLimits in http.ts; `serve` flags) -----------------------------------------
  /** The request line and headers must arrive within this, or the connection is answered 408 and
   * closed (a client trickling headers, "slowloris"). A real client sends its ~1 KB of headers in one
   * packet; 10 s forgives a congested link and is 6x shorter than Node's own 60 s. */
  headersTimeoutMs: 10_000,
  /** Once the headers are in, the body must arrive within this, or 408 and close. 30 s carries the
   * whole 1 MiB body limit at ~35 KB/s (a poor mobile uplink), and is the longest a client sending a
   * byte now and then can hold a connection. */
  bodyTimeoutMs: 30_000,
  /** Backstop for the whole request, headers and body, including a body no route reads (sent to GET
   * /healthz, say): above headersTimeoutMs + bodyTimeoutMs so those answer first with their own
   * message, and far below Node's 300 s. Must be >= headersTimeoutMs. */
  requestTimeoutMs: 45_000,
  /** An idle keep-alive connection is closed after this: Node's 5 s, enough for a client's next
   * request to reuse it. Behind a load balancer, set it ABOVE the balancer's idle timeout (65 s for an
   * AWS ALB's 60 s), so the balancer never sends on a connection the gateway is closing. */
  keepAliveTimeoutMs: 5_000,
  /** A connection with no traffic either way for this long is closed, whatever its state (a client
   * that stopped reading its answer). Above proxyTimeoutMs (60 s), so waiting on a slow upstream
   * never trips it. */
  idleTimeoutMs: 90_000,
  /** Connections open at once; more are closed as they arrive (counted in
   * model_gitops_connections_dropped_total). Caps what slow or hostile clients can hold: each open
   * connection costs a socket, a parser and up to maxBodyBytes while its body arrives (1024 x 1 MiB =
   * 1 GiB at worst, a few KB typically), and leaves file descriptors for the store and the models.
   * Load tests at 64 connections use a small part of it. */
  maxConnections: 1024,
  /** Request line and headers above this are answered 431: Node's own 16 KiB, ample for API clients. */
  maxHeaderBytes: 16 * 1024,
  /** After answering a request whose body it did not read whole (413, 408, 415 on a large body), the
   * gateway half-closes and keeps reading (and dropping) what the client still sends for this long
   * before it closes: closing at once would reset the connection and the client might never read
   * the answer. Apache's lingering close waits 2 s too. */
  lingerMs: 2_000,
  /** ...and drops at most this much of it, then stops reading (TCP holds the rest back until the
   * close), so a client pushing 20 MB costs the gateway 64 KiB of parsing, not 20 MB (measured: 0.4 ms
   * of CPU for such a request, against 14 ms when the gateway drained 16 MB of it). */
  lingerBytes: 64 * 1024,
} as const;
