// Pickle-based weights: torch.load / pickle.load run code chosen by whoever wrote the file, so they are
// refused unless a person allows them (--allow-pickle), and then marked in the card (artifacts[].pickle)
// and warned about by validate. Detection reads only the first bytes; nothing is ever unpickled.
import { hasPickleExtension } from '../../registry/pickle.ts';

export { hasPickleExtension, PICKLE_EXTENSIONS } from '../../registry/pickle.ts';

/**
 * What the first bytes say: a zip (torch.save's default since 1.6: a zip holding data.pkl) or a raw
 * pickle stream (PROTO opcode 0x80 then protocol 2..5; protocols 0/1 have no magic and are caught by extension).
 */
export function pickleMagic(head: Uint8Array): 'zip' | 'pickle' | undefined {
  if (head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) return 'zip';
  if (head.length >= 2 && head[0] === 0x80 && head[1]! >= 2 && head[1]! <= 5) return 'pickle';
  return undefined;
}

/** Whether a file is pickle-based: by extension, or a pickle stream under any other name. */
export function isPickle(path: string, head: Uint8Array): boolean {
  return hasPickleExtension(path) || pickleMagic(head) === 'pickle';
}
