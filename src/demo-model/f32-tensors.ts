// F32 tensors for the demo model, over the reference safetensors code (src/formats/safetensors.ts does the
// layout, the writer and every header check). This adds only what the demo needs: Float32Array data,
// F32-only files, and a tighter header bound (the demo's headers are a few hundred bytes).
import { encodeSafetensors, parseSafetensors } from '../formats/safetensors.ts';

export interface F32Tensor {
  shape: number[];
  data: Float32Array;
}

const MAX_HEADER = 16 * 1024 * 1024;

/** The file bytes; `__metadata__` is {format: 'pt'} so the same file loads in PyTorch. */
export function writeSafetensors(tensors: { name: string; shape: number[]; data: Float32Array }[]): Buffer {
  // Float32Array bytes are little-endian on every platform Node supports.
  return encodeSafetensors(
    tensors.map((t) => ({
      name: t.name,
      dtype: 'F32',
      shape: t.shape,
      data: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
    })),
    { format: 'pt' },
  );
}

/** Every tensor as F32 (any other dtype is refused); errors name the file and the tensor. */
export function readSafetensors(bytes: Buffer, file = 'model.safetensors'): Map<string, F32Tensor> {
  const header = parseSafetensors(file, bytes, { maxHeaderBytes: MAX_HEADER });
  const out = new Map<string, F32Tensor>();
  for (const t of header.tensors) {
    if (t.dtype !== 'F32') throw new Error(`${file}: tensor ${t.name}: dtype ${t.dtype} is not supported (F32 only)`);
    // Copy so the Float32Array is aligned regardless of the header's length.
    const data = new Float32Array((t.end - t.start) / 4);
    Buffer.from(data.buffer).set(bytes.subarray(t.start, t.end));
    out.set(t.name, { shape: t.shape, data });
  }
  return out;
}
