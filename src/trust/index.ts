// The trust layer: a TUF repository that vouches for manifest.json (publisher side) and the
// verifying client devices and gateways use (device side).
export * from './keys.ts';
export * from './repository-io.ts';
export * from './repository.ts';
export * from './client.ts';
export * from './store-io.ts';
