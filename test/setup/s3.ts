// Vitest globalSetup: a real S3 server (Ceph radosgw) for the store tests.
// If S3_ENDPOINT is set, that server is used as is. Otherwise a private radosgw is started
// (scripts/s3-private.ts) and stopped at the end. Ceph is installed from Debian's packages first when
// it is missing and we are root (a fresh machine running `npm test`); otherwise the S3 tests fail
// saying how to fix it, and the other tests run as usual.
import { spawnSync } from 'node:child_process';
import { radosgwInstalled, startPrivateS3 } from '../../scripts/s3-private.ts';

export default async function setup(): Promise<(() => Promise<void>) | void> {
  if (process.env.S3_ENDPOINT) return;
  if (!(await radosgwInstalled()) && process.getuid?.() === 0) {
    console.log('installing Ceph radosgw for the S3 tests (scripts/s3-server.sh install)...');
    spawnSync('bash', [new URL('../../scripts/s3-server.sh', import.meta.url).pathname, 'install'], {
      stdio: 'inherit',
    });
  }
  if (!(await radosgwInstalled())) {
    process.env.S3_UNAVAILABLE =
      'Ceph radosgw is not installed: run `scripts/s3-server.sh install` (root), or set S3_ENDPOINT and AWS credentials';
    return;
  }
  return startPrivateS3();
}
