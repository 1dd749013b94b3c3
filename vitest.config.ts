import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Starts a real S3 server (Ceph radosgw) unless S3_ENDPOINT is set; see test/setup/s3.ts.
    globalSetup: ['test/setup/s3.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
