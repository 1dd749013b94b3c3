// The ggml tensor types a GGUF file may hold: id, name, elements per block and bytes per block.
// Matched against ggml-org/ggml at commit d99724f2b141fed9e1a9f402213506c081433465 (2026-08-21):
// include/ggml.h `enum ggml_type` (ids; GGML_TYPE_COUNT = 43) and src/ggml.c `type_traits` with the
// block structs and static_asserts of src/ggml-common.h (QK4_0 = 32, QK_K = 256, QK_NVFP4 = 64, ...). The bytes of a row of
// ne0 elements are ne0 / blockSize * typeSize (ggml_row_size); ne0 must be a multiple of blockSize.

export interface GgmlType {
  readonly id: number;
  readonly name: string;
  /** Elements per block (ggml_blck_size). */
  readonly blockSize: number;
  /** Bytes per block (ggml_type_size). */
  readonly typeSize: number;
}

const QK = 32;
const QK_K = 256;

/** [id, name, blockSize, typeSize], in id order. The comment is the block struct the size comes from. */
const TABLE: readonly (readonly [number, string, number, number])[] = [
  [0, 'F32', 1, 4],
  [1, 'F16', 1, 2],
  [2, 'Q4_0', QK, 2 + QK / 2], // d, qs[16]
  [3, 'Q4_1', QK, 4 + QK / 2], // d, m, qs[16]
  [6, 'Q5_0', QK, 2 + 4 + QK / 2], // d, qh[4], qs[16]
  [7, 'Q5_1', QK, 4 + 4 + QK / 2], // d, m, qh[4], qs[16]
  [8, 'Q8_0', QK, 2 + QK], // d, qs[32]
  [9, 'Q8_1', QK, 4 + QK], // d, s, qs[32]
  [10, 'Q2_K', QK_K, QK_K / 16 + QK_K / 4 + 4], // scales[16], qs[64], d, dmin
  [11, 'Q3_K', QK_K, QK_K / 8 + QK_K / 4 + 12 + 2], // hmask[32], qs[64], scales[12], d
  [12, 'Q4_K', QK_K, 4 + 12 + QK_K / 2], // d, dmin, scales[12], qs[128]
  [13, 'Q5_K', QK_K, 4 + 12 + QK_K / 8 + QK_K / 2], // d, dmin, scales[12], qh[32], qs[128]
  [14, 'Q6_K', QK_K, QK_K / 2 + QK_K / 4 + QK_K / 16 + 2], // ql[128], qh[64], scales[16], d
  [15, 'Q8_K', QK_K, 4 + QK_K + (QK_K / 16) * 2], // float d, qs[256], int16 bsums[16]
  [16, 'IQ2_XXS', QK_K, 2 + (QK_K / 8) * 2], // d, uint16 qs[32]
  [17, 'IQ2_XS', QK_K, 2 + (QK_K / 8) * 2 + QK_K / 32], // d, uint16 qs[32], scales[8]
  [18, 'IQ3_XXS', QK_K, 2 + (3 * QK_K) / 8], // d, qs[96]
  [19, 'IQ1_S', QK_K, 2 + QK_K / 8 + (QK_K / 32) * 2], // d, qs[32], uint16 qh[8]
  [20, 'IQ4_NL', QK, 2 + QK / 2], // d, qs[16]
  [21, 'IQ3_S', QK_K, 2 + QK_K / 4 + QK_K / 32 + QK_K / 8 + 4], // d, qs[64], qh[8], signs[32], scales[4]
  [22, 'IQ2_S', QK_K, 2 + QK_K / 4 + QK_K / 32 + QK_K / 32], // d, qs[64], qh[8], scales[8]
  [23, 'IQ4_XS', QK_K, 2 + 2 + QK_K / 64 + QK_K / 2], // d, scales_h, scales_l[4], qs[128]
  [24, 'I8', 1, 1],
  [25, 'I16', 1, 2],
  [26, 'I32', 1, 4],
  [27, 'I64', 1, 8],
  [28, 'F64', 1, 8],
  [29, 'IQ1_M', QK_K, QK_K / 8 + QK_K / 16 + QK_K / 32], // qs[32], qh[16], scales[8] (no d field)
  [30, 'BF16', 1, 2],
  [34, 'TQ1_0', QK_K, (QK_K - (4 * QK_K) / 64) / 5 + QK_K / 64 + 2], // qs[48], qh[4], d
  [35, 'TQ2_0', QK_K, QK_K / 4 + 2], // qs[64], d
  [39, 'MXFP4', QK, 1 + QK / 2], // e (E8M0), qs[16]
  [40, 'NVFP4', 64, 64 / 16 + 64 / 2], // d[4] (UE4M3 per 16), qs[32]
  [41, 'Q1_0', 128, 2 + 128 / 8], // d, qs[16]
  [42, 'Q2_0', 64, 2 + 64 / 4], // d, qs[16]
];

/** Ids ggml once had and no longer reads from GGUF files, with why (the refusal says so). */
export const REMOVED_GGML_TYPES: ReadonlyMap<number, string> = new Map([
  [4, 'Q4_2 (removed from ggml)'],
  [5, 'Q4_3 (removed from ggml)'],
  [31, 'Q4_0_4_4 (removed from GGUF files: use Q4_0, repacked at load time)'],
  [32, 'Q4_0_4_8 (removed from GGUF files: use Q4_0, repacked at load time)'],
  [33, 'Q4_0_8_8 (removed from GGUF files: use Q4_0, repacked at load time)'],
  [36, 'IQ4_NL_4_4 (removed from GGUF files: use IQ4_NL, repacked at load time)'],
  [37, 'IQ4_NL_4_8 (removed from GGUF files: use IQ4_NL, repacked at load time)'],
  [38, 'IQ4_NL_8_8 (removed from GGUF files: use IQ4_NL, repacked at load time)'],
]);

/** GGML_TYPE_COUNT at the matched revision: ids at or above it are unknown. */
export const GGML_TYPE_COUNT = 43;

export const GGML_TYPES: readonly GgmlType[] = Object.freeze(
  TABLE.map(([id, name, blockSize, typeSize]) => Object.freeze({ id, name, blockSize, typeSize })),
);

const BY_ID = new Map(GGML_TYPES.map((t) => [t.id, t]));
const BY_NAME = new Map(GGML_TYPES.map((t) => [t.name, t]));

/** The type with this id, or undefined (unknown or removed). */
export const ggmlTypeById = (id: number): GgmlType | undefined => BY_ID.get(id);

/** The type with this name ('Q8_0', 'F32'; case-sensitive, as ggml_type_name spells it), or undefined. */
export const ggmlTypeByName = (name: string): GgmlType | undefined => BY_NAME.get(name);

/** Whether the type is block-quantized (more than one element per block). */
export const isQuantized = (t: GgmlType): boolean => t.blockSize > 1;

/**
 * llama.cpp's `general.file_type` values (llama.cpp include/llama.h `enum llama_ftype`, up to
 * LLAMA_FTYPE_MOSTLY_Q1_0 = 40; a newer value falls back to the dominant tensor type), named as
 * llama.cpp prints them without the LLAMA_FTYPE_ prefix. Removed values are kept so old files still name
 * their quantization.
 */
export const LLAMA_FILE_TYPES: ReadonlyMap<number, string> = new Map([
  [0, 'ALL_F32'],
  [1, 'MOSTLY_F16'],
  [2, 'MOSTLY_Q4_0'],
  [3, 'MOSTLY_Q4_1'],
  [4, 'MOSTLY_Q4_1_SOME_F16'],
  [5, 'MOSTLY_Q4_2'],
  [6, 'MOSTLY_Q4_3'],
  [7, 'MOSTLY_Q8_0'],
  [8, 'MOSTLY_Q5_0'],
  [9, 'MOSTLY_Q5_1'],
  [10, 'MOSTLY_Q2_K'],
  [11, 'MOSTLY_Q3_K_S'],
  [12, 'MOSTLY_Q3_K_M'],
  [13, 'MOSTLY_Q3_K_L'],
  [14, 'MOSTLY_Q4_K_S'],
  [15, 'MOSTLY_Q4_K_M'],
  [16, 'MOSTLY_Q5_K_S'],
  [17, 'MOSTLY_Q5_K_M'],
  [18, 'MOSTLY_Q6_K'],
  [19, 'MOSTLY_IQ2_XXS'],
  [20, 'MOSTLY_IQ2_XS'],
  [21, 'MOSTLY_Q2_K_S'],
  [22, 'MOSTLY_IQ3_XS'],
  [23, 'MOSTLY_IQ3_XXS'],
  [24, 'MOSTLY_IQ1_S'],
  [25, 'MOSTLY_IQ4_NL'],
  [26, 'MOSTLY_IQ3_S'],
  [27, 'MOSTLY_IQ3_M'],
  [28, 'MOSTLY_IQ2_S'],
  [29, 'MOSTLY_IQ2_M'],
  [30, 'MOSTLY_IQ4_XS'],
  [31, 'MOSTLY_IQ1_M'],
  [32, 'MOSTLY_BF16'],
  [33, 'MOSTLY_Q4_0_4_4'],
  [34, 'MOSTLY_Q4_0_4_8'],
  [35, 'MOSTLY_Q4_0_8_8'],
  [36, 'MOSTLY_TQ1_0'],
  [37, 'MOSTLY_TQ2_0'],
  [38, 'MOSTLY_MXFP4_MOE'],
  [39, 'MOSTLY_NVFP4'],
  [40, 'MOSTLY_Q1_0'],
  [1024, 'GUESSED'],
]);

/**
 * Bytes of a tensor of this type and shape (ggml order, ne0 first), as ggml_nbytes computes it for a
 * contiguous tensor: ne0 / blockSize * typeSize * ne1 * ne2 * ne3. BigInt: no product can overflow here;
 * the caller bounds the result. Undefined when ne0 is not a multiple of the block size.
 */
export function ggmlTensorBytes(type: GgmlType, dims: readonly (number | bigint)[]): bigint | undefined {
  const ne0 = BigInt(dims[0] ?? 1);
  const block = BigInt(type.blockSize);
  if (ne0 % block !== 0n) return undefined;
  let bytes = (ne0 / block) * BigInt(type.typeSize);
  for (let i = 1; i < dims.length; i++) bytes *= BigInt(dims[i]!);
  return bytes;
}
