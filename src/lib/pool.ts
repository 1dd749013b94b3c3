// Bounded concurrency for independent async jobs (store reads, hashing, uploads).

/**
 * `fn` over every item with at most `limit` running at once; results in input order. The first
 * rejection rejects the whole call (jobs already running finish on their own, no new ones start).
 */
export async function mapPool<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i]!, i);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  const workers = Math.max(1, Math.min(Math.floor(limit) || 1, items.length));
  await Promise.all(Array.from({ length: items.length === 0 ? 0 : workers }, worker));
  return out;
}
