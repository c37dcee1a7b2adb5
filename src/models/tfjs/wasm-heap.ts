// TF.js's wasm backend and its 4 GiB heap. What really happens when a call needs more (measured on
// @tensorflow/tfjs-backend-wasm 4.22, see docs/graph-models.md "Memory"): the backend allocates each
// tensor with the module's `_malloc` and never checks the result. When the heap cannot grow past
// its cap, `_malloc` returns 0 and TF.js registers the tensor at address 0 and writes there, over
// the module's own data; the call then traps ("memory access out of bounds", "table index is out of
// bounds") or aborts, and later ops trap or abort too, or sometimes not: nothing computed on the
// module can be trusted for the rest of the process, and nothing says why.
// `guardWasmHeap` makes such an allocation throw a typed error instead (nothing is written, the
// backend stays usable, and the caller can split the batch); a wasm trap that still happens marks
// the backend dead, and later calls refuse with a typed error instead of running on it.
import * as tf from '@tensorflow/tfjs-core';
import { BackendError } from '../../core/errors.js';

/** The wasm module's heap cap (emscripten's `getHeapMax` in tfjs-backend-wasm 4.x: 4 GiB − 64 KiB). */
export const WASM_HEAP_MAX = 4294901760;

/**
 * The top of the heap that tensors may not take: what the module allocates itself (its kernels'
 * own buffers; a trap inside `_Conv2D` was seen with the heap full) is not checked by anyone, and
 * traps the module when it fails, so it keeps this much room.
 */
export const WASM_INTERNAL_RESERVE = 64 * 1024 * 1024;

/** Bytes kept free beyond live tensors when sizing a call: the internal reserve, the module's data, fragmentation. */
const WASM_HEAP_RESERVE = 256 * 1024 * 1024;

/** The parts of TF.js's emscripten module used here (structural: `BackendWasm.wasm`). */
export interface WasmModuleLike {
  readonly HEAPU8: Uint8Array;
  _malloc(bytes: number): number;
  _free(ptr: number): void;
}

const isWasmModule = (m: unknown): m is WasmModuleLike =>
  typeof m === 'object' && m !== null && 'HEAPU8' in m && m.HEAPU8 instanceof Uint8Array && '_malloc' in m && typeof m._malloc === 'function' && '_free' in m && typeof m._free === 'function';

/** The emscripten module of the backend in force, when it is TF.js's wasm backend. */
export function wasmModule(): WasmModuleLike | undefined {
  if (tf.getBackend() !== 'wasm') return undefined;
  const b: unknown = tf.backend();
  const m = typeof b === 'object' && b !== null && 'wasm' in b ? b.wasm : undefined;
  return isWasmModule(m) ? m : undefined;
}

const guarded = new WeakSet<WasmModuleLike>();
let refused = 0;

/** Allocations the guard has refused in this process (each one a call that was split or failed). */
export const refusedAllocations = (): number => refused;

const dead = new WeakMap<WasmModuleLike, string>();

/** The typed error of an allocation the wasm heap could not hold (`details.outOfMemory`). */
export function wasmOutOfMemory(bytes: number, heapBytes: number): BackendError {
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
  return new BackendError(
    `The wasm backend could not allocate ${mib(bytes)} (heap ${mib(heapBytes)}, capped at 4 GiB); nothing was written and the backend is still usable: run fewer rows per call (a smaller 'memoryBudgetBytes' or batch size), or use the cpu backend or the ONNX engine`,
    { backend: 'wasm', outOfMemory: true, bytes, heapBytes },
  );
}

/**
 * Makes a failed allocation of the wasm backend in force throw `wasmOutOfMemory` instead of
 * returning address 0 (which TF.js would write over), and refuses tensors the top
 * `WASM_INTERNAL_RESERVE` bytes of the heap (kept for the module's own allocations, whose failure
 * traps it). Installed once per module, for the whole process (any TF.js user of that backend); a
 * no-op on other backends. Cost: two comparisons per tensor allocation.
 */
export function guardWasmHeap(): void {
  const m = wasmModule();
  if (!m || guarded.has(m)) return;
  // emscripten's `_malloc` starts as a forwarder that replaces itself with the wasm export on its
  // first call: call it once so that the function wrapped below is the export itself
  m._free(m._malloc(8));
  const malloc = m._malloc;
  const free = m._free;
  m._malloc = (bytes: number): number => {
    const ptr = malloc(bytes) >>> 0;
    if (ptr === 0 && bytes > 0) {
      refused++;
      throw wasmOutOfMemory(bytes, m.HEAPU8.byteLength);
    }
    if (ptr + bytes > WASM_HEAP_MAX - WASM_INTERNAL_RESERVE) {
      free(ptr);
      refused++;
      throw wasmOutOfMemory(bytes, m.HEAPU8.byteLength);
    }
    return ptr;
  };
  guarded.add(m);
}

/** Bytes the wasm heap can still give to one call (cap − live tensors − a reserve); undefined off wasm. */
export function wasmHeadroom(): number | undefined {
  if (!wasmModule()) return undefined;
  return Math.max(0, WASM_HEAP_MAX - tf.memory().numBytes - WASM_HEAP_RESERVE);
}

const deadError = (reason: string, cause?: unknown): BackendError =>
  new BackendError(
    `The wasm backend is dead (${reason}): its module trapped or aborted, so no result computed on it in this process can be trusted; restart the process, and run fewer rows per call (a smaller 'memoryBudgetBytes' or batch size) or use the cpu backend or the ONNX engine`,
    { backend: 'wasm', dead: true, reason },
    cause,
  );

/** Throws the typed dead-backend error when the wasm backend in force has trapped or aborted before. */
export function assertBackendAlive(): void {
  const m = wasmModule();
  const reason = m && dead.get(m);
  if (reason) throw deadError(reason);
}

/** Whether `e` is a trap or abort of a wasm module (after which the module cannot be trusted). */
export const isWasmTrap = (e: Error): boolean => e instanceof WebAssembly.RuntimeError || /^Aborted\(/.test(e.message);

/**
 * What to throw for `e`, a failure of a call on the backend in force: when it is (or was caused by)
 * a trap or abort of the wasm module, the backend is marked dead and the typed dead-backend error
 * is returned; otherwise `e` itself.
 */
export function backendFailure(e: unknown): unknown {
  const m = wasmModule();
  if (!m || (e instanceof BackendError && e.details['dead'] === true)) return e;
  for (let c: unknown = e, depth = 0; c instanceof Error && depth < 4; c = c.cause, depth++) {
    if (isWasmTrap(c)) {
      dead.set(m, c.message);
      return deadError(c.message, e);
    }
  }
  return e;
}

/** The parts of TF.js's wasm backend used to find buffers a failed kernel left registered (structural). */
interface WasmBackendLike {
  move(dataId: object, ...rest: unknown[]): void;
  disposeData(dataId: object, force?: boolean): boolean;
  readonly dataIdMap: { has(dataId: object): boolean };
}

const isWasmBackend = (b: unknown): b is WasmBackendLike =>
  typeof b === 'object' && b !== null && 'move' in b && typeof b.move === 'function' && 'disposeData' in b && typeof b.disposeData === 'function' && 'dataIdMap' in b && typeof b.dataIdMap === 'object' && b.dataIdMap !== null && 'has' in b.dataIdMap;

/** Whether the engine holds a tensor on `dataId` (its `state.tensorInfo`, a WeakMap keyed by data id). */
function engineHolds(dataId: object): boolean {
  const state: unknown = (tf.engine() as { state?: unknown }).state;
  const info = typeof state === 'object' && state !== null && 'tensorInfo' in state ? state.tensorInfo : undefined;
  return info instanceof WeakMap ? info.has(dataId) : true;
}

/**
 * Runs `body` (TF.js work on the backend in force) with the wasm heap guarded: a backend that
 * trapped before refuses (`assertBackendAlive`), a failed allocation throws (`guardWasmHeap`), and a
 * trap marks the backend dead (`backendFailure`). When `body` fails with the guard's out-of-memory
 * error, the buffers it registered that no tensor holds are freed: a kernel that allocates several
 * outputs or temporaries (TopK, Mean, BatchMatMul, …) and is refused at a later one leaves the earlier
 * ones registered in the backend but unknown to the engine, for good. Off wasm: `body()`.
 */
export function onGuardedBackend<T>(body: () => T): T {
  guardWasmHeap();
  assertBackendAlive();
  const backend: unknown = wasmModule() ? tf.backend() : undefined;
  if (!isWasmBackend(backend)) return body();
  const moved: object[] = [];
  const move = backend.move;
  backend.move = function (this: WasmBackendLike, dataId: object, ...rest: unknown[]) {
    move.call(this, dataId, ...rest);
    moved.push(dataId); // registered (a refused allocation throws before)
  };
  try {
    return body();
  } catch (e) {
    if (e instanceof BackendError && e.details['outOfMemory'] === true) {
      for (const id of moved) if (backend.dataIdMap.has(id) && !engineHolds(id)) backend.disposeData(id, true);
    }
    throw backendFailure(e);
  } finally {
    backend.move = move;
  }
}
