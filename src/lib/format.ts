// Human-readable figures for terminals, logs and job summaries (binary units, as `ls -h` and the cloud
// consoles print object sizes).

/** 512 B, 1.5 KiB, 300 MiB, 2.0 GiB: one decimal under 100, none from 100 up. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
}

export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(Math.round(bytesPerSecond))}/s`;
}

/** Always MiB with one decimal: for figures a reader compares side by side (needed vs free disk space). */
export function formatMiB(n: number): string {
  return `${(n / 1048576).toFixed(1)} MiB`;
}
