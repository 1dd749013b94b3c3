// The publisher's side of the signed manifest: publish a registry commit, re-sign what is published,
// and read the publication history. Callers import from here.
export * from './defaults.ts';
export * from './crash-points.ts';
export * from './errors.ts';
export * from './diff.ts';
export * from './store-reads.ts';
export * from './publish.ts';
export * from './resign.ts';
export * from './history.ts';
