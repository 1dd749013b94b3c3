// Which version of a model this device runs: the champion, or the canary when the device opted in
// and its bucket falls in the canary's share. Deterministic: the same device key always lands in the
// same bucket, so a device does not flip between versions from one poll to the next.
import { createHash } from 'node:crypto';
import type { ManifestDeployment } from '../manifest.ts';

export const BUCKETS = 10_000;

/** sha256 of the device key, first 4 bytes as an unsigned big-endian integer, modulo 10,000. */
export function canaryBucket(deviceKey: string): number {
  return createHash('sha256').update(deviceKey).digest().readUInt32BE(0) % BUCKETS;
}

export interface Pick { version: string; role: 'champion' | 'canary' }

/** The canary (weight in percent) owns buckets [0, weight * 100). */
export function pickVersion(d: ManifestDeployment, device: { deviceKey?: string; canary?: boolean }): Pick {
  if (device.canary && device.deviceKey !== undefined && d.canary && canaryBucket(device.deviceKey) < Math.round(d.canary.weight * 100)) {
    return { version: d.canary.version, role: 'canary' };
  }
  return { version: d.version, role: 'champion' };
}
