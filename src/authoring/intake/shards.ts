// Sharded safetensors checkpoints (`model.safetensors.index.json` + `model-0000N-of-0000M.safetensors`):
// a checkpoint is pushed only when it is complete. Every shard the index names is in the folder, every
// tensor of every shard is listed in the index under that shard and appears in exactly one shard, no
// shard of the set is left out of the index, and metadata.total_size (when given) equals the tensor bytes.
// Pure: the caller reads the files; this only compares.
import type { TensorInfo } from '../../formats/safetensors.ts';

/** `<stem>.safetensors.index.json`, the name transformers and diffusers write. */
export const SHARD_INDEX = /(?:^|\/)([^/]+)\.safetensors\.index\.json$/;
const SHARD_NAME = /^(.+)-(\d{5})-of-(\d{5})\.safetensors$/;

export interface ShardIndexInput {
  /** The index file's path in the folder ('/'-separated). */
  path: string;
  text: string;
}

const dirOf = (p: string) => (p.includes('/') ? p.slice(0, p.lastIndexOf('/') + 1) : '');
const example = (names: string[]) => `e.g. ${JSON.stringify(names[0])}`;

/**
 * Problems with one index against the folder (empty when it is complete). `tensors` maps every
 * safetensors file of the folder to its header's tensors.
 */
export function checkShardIndex(index: ShardIndexInput, tensors: ReadonlyMap<string, readonly TensorInfo[]>): string[] {
  const f = index.path;
  let parsed: unknown;
  try {
    parsed = JSON.parse(index.text);
  } catch (e) {
    return [`${f}: not valid JSON (${(e as Error).message}); re-download or re-save the checkpoint`];
  }
  const obj =
    typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined;
  const map = obj?.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map))
    return [`${f}: weight_map is missing or not an object of tensor name -> shard file`];
  const problems: string[] = [];
  const dir = dirOf(f);
  const byShard = new Map<string, string[]>();
  for (const [tensor, shard] of Object.entries(map as Record<string, unknown>)) {
    if (typeof shard !== 'string' || shard === '' || shard.includes('/') || shard.includes('\\') || shard === '..') {
      problems.push(
        `${f}: weight_map["${tensor}"] is ${JSON.stringify(shard)}, not a shard file name in the same folder`,
      );
      continue;
    }
    const list = byShard.get(shard) ?? [];
    list.push(tensor);
    byShard.set(shard, list);
  }
  if (problems.length) return problems;

  // Every shard named is there.
  for (const [shard, names] of byShard) {
    if (!tensors.has(dir + shard))
      problems.push(
        `${f}: weight_map names ${shard} (for ${names.length} tensor${names.length === 1 ? '' : 's'}, ${example(names)}), which is not in the folder; download or copy the missing shard (an interrupted download?)`,
      );
  }
  // Every tensor of every named shard is listed there, and each tensor lives in exactly one shard.
  const where = new Map<string, string[]>();
  let tensorBytes = 0;
  for (const shard of byShard.keys()) {
    const list = tensors.get(dir + shard);
    if (!list) continue;
    const listed = new Set(byShard.get(shard));
    const unlisted: string[] = [];
    for (const t of list) {
      tensorBytes += t.end - t.start;
      where.set(t.name, [...(where.get(t.name) ?? []), shard]);
      if (!listed.has(t.name)) unlisted.push(t.name);
    }
    if (unlisted.length)
      problems.push(
        `${dir}${shard}: holds ${unlisted.length} tensor${unlisted.length === 1 ? '' : 's'} that ${f} does not map to it (${example(unlisted)}); the index and the shards come from different saves: re-save the checkpoint`,
      );
    const present = new Set(list.map((t) => t.name));
    const absent = [...listed].filter((n) => !present.has(n));
    if (absent.length)
      problems.push(
        `${f}: weight_map puts ${absent.length} tensor${absent.length === 1 ? '' : 's'} in ${shard} that it does not hold (${example(absent)}); re-save the checkpoint`,
      );
  }
  const dup = [...where].filter(([, s]) => s.length > 1);
  if (dup.length)
    problems.push(
      `${dup.length} tensor${dup.length === 1 ? ' is' : 's are'} in more than one shard (e.g. "${dup[0]![0]}" in ${dup[0]![1].join(' and ')}); re-save the checkpoint`,
    );
  // A shard of the same set left out of the index (e.g. a stale one from an earlier save with more shards).
  const stems = new Set([...byShard.keys()].map((s) => SHARD_NAME.exec(s)?.[1]).filter((s) => s !== undefined));
  for (const path of tensors.keys()) {
    if (dirOf(path) !== dir) continue;
    const name = path.slice(dir.length);
    const m = SHARD_NAME.exec(name);
    if (m && stems.has(m[1]!) && !byShard.has(name))
      problems.push(
        `${path}: looks like a shard of this checkpoint but ${f} does not name it (left over from an earlier save?); delete it or re-save the checkpoint`,
      );
  }
  const total = (obj?.metadata as Record<string, unknown> | undefined)?.total_size;
  if (total !== undefined && problems.length === 0) {
    if (typeof total !== 'number' || !Number.isSafeInteger(total) || total < 0)
      problems.push(`${f}: metadata.total_size is ${JSON.stringify(total)}, not a byte count`);
    else if (total !== tensorBytes)
      problems.push(
        `${f}: metadata.total_size is ${total} but the shards hold ${tensorBytes} bytes of tensors; the index and the shards do not match: re-save the checkpoint`,
      );
  }
  return problems;
}
