// Fills TF.js's wasm heap up to its cap, cheaply: `_malloc` blocks that are never written cost address
// space, not RAM. Used to exhaust the real heap for real (src/models/tfjs/wasm-heap.test.ts,
// scripts/wasm-memory-check.ts) without 4 GiB of tensors.
import type { WasmModuleLike } from '../src/models/tfjs/wasm-heap.js';

/**
 * Takes every block of 256, then 16, then 1 MiB the heap gives (or attrib's guard allows), then frees
 * the last blocks taken (1 MiB ones first) until at least `leaveMiB` MiB are free (at most one block
 * more). Returns the release of every block still held.
 */
export function fillWasmHeap(m: WasmModuleLike, leaveMiB: number): () => void {
  const blocks: { ptr: number; mib: number }[] = [];
  const take = (mib: number) => {
    for (;;) {
      let ptr = 0;
      try {
        ptr = m._malloc(mib * 2 ** 20) >>> 0;
      } catch {
        return; // refused by attrib's guard: the heap is at its cap
      }
      if (ptr === 0) return;
      blocks.push({ ptr, mib });
    }
  };
  for (const mib of [256, 16, 1]) take(mib);
  for (let freed = 0; freed < leaveMiB && blocks.length > 0; ) {
    const b = blocks.pop()!;
    m._free(b.ptr);
    freed += b.mib;
  }
  return () => blocks.splice(0).forEach((b) => m._free(b.ptr));
}
