// Pickle-based weight files: torch.load and pickle.load run code chosen by whoever wrote the file. push
// refuses them unless allowed (then the card marks them `pickle: true`) and validate warns about them.

/** Extensions whose files are loaded with pickle (torch.save writes .bin/.pt/.pth/.ckpt; .pkl is pickle). */
export const PICKLE_EXTENSIONS: readonly string[] = ['.bin', '.pt', '.pth', '.ckpt', '.pkl', '.pickle'];

export function hasPickleExtension(path: string): boolean {
  const p = path.toLowerCase();
  return PICKLE_EXTENSIONS.some((e) => p.endsWith(e));
}
