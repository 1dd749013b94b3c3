// Which version of a model this device runs: the champion, or the canary when the device opted in
// and its bucket falls in the canary's share. The bucket is the gateway's (src/manifest/routing.ts,
// docs/routing.md) with seed = the environment name and key = the device key, so a device and a
// gateway of the same environment agree on who is in a canary. Deterministic: the same device key
// always lands in the same bucket, so a device does not flip between versions from one poll to the next.
import type { ManifestDeployment } from '../manifest/manifest.ts';
import { BUCKETS, canaryThreshold, routingBucket } from '../manifest/routing.ts';

export { BUCKETS };

/** The device's bucket for one model of one environment (0..9999): routingBucket(environment, model, deviceKey). */
export function canaryBucket(environment: string, model: string, deviceKey: string): number {
  return routingBucket(environment, model, deviceKey);
}

export interface Pick {
  version: string;
  role: 'champion' | 'canary';
}

/** The canary (weight in percent) owns buckets [0, round(weight * 100)), as in the gateway. */
export function pickVersion(
  d: ManifestDeployment,
  device: { environment: string; model: string; deviceKey?: string; canary?: boolean },
): Pick {
  if (
    device.canary &&
    device.deviceKey !== undefined &&
    d.canary &&
    canaryBucket(device.environment, device.model, device.deviceKey) < canaryThreshold(d.canary.weight)
  ) {
    return { version: d.canary.version, role: 'canary' };
  }
  return { version: d.version, role: 'champion' };
}
