// The device's index check moved to index-check.ts when GGUF files gained tensor indexes; this name
// stays for code that imported it.
export { checkIndex, type DeviceIndex, type IndexCheck, type SafetensorsIndex, validIndex } from './index-check.ts';
