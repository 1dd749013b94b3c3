// Benchmark reports read from the weight store (S3 or folder), for the production evidence gate.
import { type BlobStore } from '../store/types.ts';
import type { ReportSource } from './store.ts';
import { NotFoundError } from '../lib/errors.ts';

export function storeReportSource(store: BlobStore): ReportSource {
  return {
    async get(key) {
      try {
        return await store.getBytes(key);
      } catch (e) {
        if (e instanceof NotFoundError) return undefined;
        throw e;
      }
    },
  };
}
