// Every default of the gateway's options, in one place: the code that applies a default reads it
// from here, and `model-gitops serve` takes its own from here instead of repeating the numbers.
export const GATEWAY_DEFAULTS = {
  /** Request bodies above this are refused with 413 (GatewayOptions.maxBodyBytes). */
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
} as const;
