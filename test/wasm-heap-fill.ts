// Fills TF.js's wasm heap up to its cap, cheaply: `_malloc` blocks that are never written cost address
// space, not RAM. Used to exhaust the real heap for real (src/models/tfjs/wasm-heap.test.ts,
// scripts/wasm-memory-check.ts) without 4 GiB of tensors.
import type { WasmModuleLike } from '../src/models/tfjs/wasm-heap.js';

/**
 * Takes every block of 256, then 16, then 1 MiB the heap gives (or attrib's guard allows), then frees
 * `leaveMiB` 1 MiB blocks (breaking a larger block into 1 MiB ones when too few): about that much stays
 * free for tensors. Returns the release of every block.
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
  const last = (mib: (n: number) => boolean) => blocks.length - 1 - [...blocks].reverse().findIndex((b) => mib(b.mib));
  for (const mib of [256, 16, 1]) take(mib);
  while (blocks.filter((b) => b.mib === 1).length < leaveMiB && blocks.some((b) => b.mib > 1)) {
    m._free(blocks.splice(last((n) => n > 1), 1)[0]!.ptr);
    take(1);
  }
  for (let k = 0; k < leaveMiB && blocks.some((b) => b.mib === 1); k++) m._free(blocks.splice(last((n) => n === 1), 1)[0]!.ptr);
  return () => blocks.splice(0).forEach((b) => m._free(b.ptr));
}
