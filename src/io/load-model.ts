import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type * as Tfc from '@tensorflow/tfjs-converter';
import { AttributionError, CapabilityError, InvalidArgumentError, ModelLoadError } from '../core/errors.js';
import { exportLayersModel } from '../models/onnx/export/from-layers.js';
import type { CacheDirOption } from '../models/onnx/compile-cache.js';
import type { ModelAdapter } from '../models/model.js';
import { hasPeer, importPeer } from '../models/peers.js';
import { fromLayersModel, LayersModelAdapter } from '../models/tfjs/layers-model.js';
import { fromGraphModel, GraphModelAdapter } from '../models/tfjs/graph-model.js';
import { exportGraphModel } from '../models/onnx/export/from-graph.js';
import { preview } from '../core/preview.js';

/** Limits for untrusted model files. */
export interface ModelFileLimits {
  /** Max size of model.json in bytes. Default 64 MiB. */
  readonly maxJsonBytes?: number;
  /** Max total size of the weight files in bytes. Default 2 GiB. */
  readonly maxWeightBytes?: number;
}

/** Which runtime runs a TF.js layers model: TF.js itself, ONNX Runtime (exported), or ONNX when it can. */
export type Engine = 'tfjs' | 'onnx' | 'auto';
export const ENGINES: readonly Engine[] = ['tfjs', 'onnx', 'auto'];

export interface LoadModelOptions extends ModelFileLimits {
  readonly name?: string;
  /**
   * Runtime of a TF.js layers `model.json`. `auto` (the default) exports it to ONNX
   * (`exportLayersModel`) and runs it on onnxruntime-node, with the same outputs, gradients and hook
   * names, when onnxruntime-node is installed, every layer exports and the export stays
   * differentiable; otherwise it stays on TF.js. `onnx` insists on ONNX Runtime (errors say why
   * not); `tfjs` keeps TF.js (needed by the rules methods: guided backprop, DeepLIFT, LRP). The
   * model's `engine` and every result's `diagnostics.engine` say which runs. `.onnx` files always
   * run on ONNX Runtime. TF.js graph models likewise: `auto` exports them (`exportGraphModel`) when
   * every op on the path converts and keeps TF.js otherwise; `onnx` refuses an unconvertible graph
   * with `capability_missing` naming the op.
   */
  readonly engine?: Engine;
  /** Folder for compiled backward graphs of ONNX engines, or false: see `OnnxLoadOptions.cacheDir`. */
  readonly cacheDir?: CacheDirOption;
  /** `.onnx` files: the input to attribute (a graph input, or an intermediate tensor to cut at); see `OnnxModelOptions.inputName`. */
  readonly inputName?: string;
  /** `.onnx` files: the output to attribute (a graph output or any intermediate tensor); see `OnnxModelOptions.outputName`. */
  readonly outputName?: string;
  /** `.onnx` files: each other input's batch axis, or null for none; see `OnnxModelOptions.inputBatchAxes`. */
  readonly inputBatchAxes?: Readonly<Record<string, number | null>>;
  /**
   * Threads ONNX Runtime may use inside one operator (`intraOpNumThreads`), for models that run on
   * it. Default: ORT's own choice (one per core), with small gradient runs on one thread. Set 1 when
   * several processes share the cores (one `attrib worker` per core). TF.js in Node runs one thread.
   */
  readonly threads?: number;
  /** `.onnx` files: inputs fixed at load as constants (e.g. `{ sr: 16000 }`); see `OnnxLoadOptions.constantInputs`. */
  readonly constantInputs?: Readonly<Record<string, number | readonly number[]>>;
  /** TF.js graph models on TF.js: bytes one call may use for activations; see `GraphModelOptions.memoryBudgetBytes`. */
  readonly memoryBudgetBytes?: number;
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2, int8: 1, int16: 2 };

interface WeightSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: string;
  readonly quantization?: { readonly dtype: string };
}

/**
 * Loads a model from disk without `tfjs-node`: a TF.js `model.json` (layers or graph format) with its
 * weight files, an `.onnx` file, or a directory holding `model.json` or `model.onnx`. The files are
 * treated as untrusted: sizes are bounded, weight paths must stay inside the model's directory, and
 * weight files must hold exactly the bytes the manifest declares.
 * @throws {ModelLoadError} `invalid_model` naming the file and what is wrong with it.
 */
export async function loadModel(file: string, opts: LoadModelOptions = {}): Promise<ModelAdapter> {
  let target = file;
  const stat = await fs.stat(file).catch((e: unknown) => {
    throw new ModelLoadError(`Model file '${file}' does not exist or cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`, { file }, e);
  });
  if (stat.isDirectory()) {
    const candidates = ['model.json', 'model.onnx'].map((n) => path.join(file, n));
    const found = await firstExisting(candidates);
    if (!found) throw new ModelLoadError(`Directory '${file}' holds neither model.json nor model.onnx`, { file });
    target = found;
  }
  const engine = opts.engine ?? 'auto';
  if (opts.threads !== undefined && !(Number.isInteger(opts.threads) && opts.threads >= 1 && opts.threads <= 256)) {
    throw new InvalidArgumentError(`Option 'threads' passed to 'loadModel' must be an integer from 1 to 256, got ${String(opts.threads)}`, { arg: 'threads', value: opts.threads });
  }
  if (opts.memoryBudgetBytes !== undefined && !(opts.memoryBudgetBytes > 0 && Number.isFinite(opts.memoryBudgetBytes))) {
    // checked before anything is loaded (a graph model refused after loading would keep its weights)
    throw new InvalidArgumentError(`Option 'memoryBudgetBytes' passed to 'loadModel' must be a positive number of bytes, got ${String(opts.memoryBudgetBytes)}`, { arg: 'memoryBudgetBytes', value: opts.memoryBudgetBytes });
  }
  if (!ENGINES.includes(engine)) throw new InvalidArgumentError(`Option 'engine' passed to 'loadModel' must be one of ${ENGINES.join(', ')}, got '${String(engine)}'`, { arg: 'engine', value: engine });
  if (target.endsWith('.onnx')) {
    if (engine === 'tfjs') throw new InvalidArgumentError(`Model '${target}' is an ONNX file: it runs on ONNX Runtime (engine onnx or auto), not on TF.js`, { arg: 'engine', file: target });
    const { fromOnnx } = await import('../models/onnx/node.js');
    return fromOnnx(target, {
      ...(opts.name === undefined ? {} : { name: opts.name }),
      ...(opts.cacheDir === undefined ? {} : { cacheDir: opts.cacheDir }),
      ...(opts.inputName === undefined ? {} : { inputName: opts.inputName }),
      ...(opts.outputName === undefined ? {} : { outputName: opts.outputName }),
      ...(opts.inputBatchAxes === undefined ? {} : { inputBatchAxes: opts.inputBatchAxes }),
      ...(opts.threads === undefined ? {} : { intraOpNumThreads: opts.threads }),
      ...(opts.constantInputs === undefined ? {} : { constantInputs: opts.constantInputs }),
    });
  }
  const model = await loadTfjsModel(target, opts);
  if (engine === 'tfjs') return model;
  // auto without ONNX Runtime installed: TF.js, silently (the model's engine says so)
  if (engine === 'auto' && !(await hasPeer('onnxruntime-node'))) return model;
  return onOnnxEngine(model, engine, target, opts);
}

/**
 * The TF.js model moved to ONNX Runtime (the TF.js one is released), or kept when `auto` cannot move
 * it: a layer or op without export, or gradients lost on the way. Layers models keep their layer
 * names and classes as hook points, graph models their op nodes.
 */
async function onOnnxEngine(model: ModelAdapter, engine: 'onnx' | 'auto', file: string, opts: LoadModelOptions): Promise<ModelAdapter> {
  if (!(model instanceof LayersModelAdapter || model instanceof GraphModelAdapter)) {
    if (engine === 'auto') return model;
    model.dispose();
    throw new CapabilityError(`Model '${file}' is neither a TF.js layers nor a graph model; engine 'onnx' runs those (and .onnx files)`, { file, engine });
  }
  let onnxModel: ModelAdapter;
  try {
    const { bytes, ...hooks } = model instanceof GraphModelAdapter ? exportGraphModel(model) : layersExport(model);
    const { fromOnnx } = await import('../models/onnx/node.js');
    onnxModel = await fromOnnx(bytes, {
      name: model.name,
      ...hooks,
      ...(model.metadata === undefined ? {} : { metadata: model.metadata }),
      ...(opts.cacheDir === undefined ? {} : { cacheDir: opts.cacheDir }),
      ...(opts.threads === undefined ? {} : { intraOpNumThreads: opts.threads }),
    });
  } catch (e) {
    if (engine === 'auto' && e instanceof AttributionError) return model;
    model.dispose();
    throw e;
  }
  if (engine === 'auto' && model.capabilities.gradients && !onnxModel.capabilities.gradients) {
    onnxModel.dispose();
    return model;
  }
  model.dispose();
  return onnxModel;
}

/** The entries of `o` whose values are neither null nor undefined (TF.js's metadata type). */
function definedValues(o: Record<string, unknown>): { [key: string]: {} } {
  const out: { [key: string]: {} } = {};
  for (const [k, v] of Object.entries(o)) if (v !== null && v !== undefined) out[k] = v;
  return out;
}

/** A layers model's ONNX bytes with the same hook points (layer names and classes) and default embedding layer as on TF.js. */
function layersExport(model: LayersModelAdapter) {
  return {
    bytes: exportLayersModel(model),
    layers: new Map(model.hookNames.map((n) => [n, model.hookClass(n)])),
    layerShapes: new Map(model.hookNames.map((n) => [n, model.hookShape(n)])),
    ...(model.embeddingOfInput === undefined ? {} : { embeddingOfInput: model.embeddingOfInput }),
    ...(model.embeddingRows === undefined ? {} : { embeddingRows: model.embeddingRows }),
  };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

async function firstExisting(paths: string[]): Promise<string | undefined> {
  for (const p of paths) {
    if (await fs.stat(p).then(() => true, () => false)) return p;
  }
  return undefined;
}

/** Reads a TF.js model.json and its weights into `ModelArtifacts`, validating everything. */
export async function readModelArtifacts(file: string, limits: ModelFileLimits = {}): Promise<tf.io.ModelArtifacts> {
  const maxJson = limits.maxJsonBytes ?? 64 * 1024 * 1024;
  const maxWeights = limits.maxWeightBytes ?? 2 * 1024 * 1024 * 1024;
  const stat = await fs.stat(file).catch((e: unknown) => {
    throw new ModelLoadError(`Model file '${file}' does not exist or cannot be read`, { file }, e);
  });
  if (stat.size > maxJson) throw new ModelLoadError(`'${file}' is ${stat.size} bytes, over the ${maxJson}-byte limit for model.json`, { file });
  let json: unknown;
  try {
    json = JSON.parse(await fs.readFile(file, 'utf8'));
  } catch (e) {
    throw new ModelLoadError(`'${file}' is not valid JSON: ${(e as Error).message}`, { file }, e);
  }
  if (!isObject(json) || !('modelTopology' in json)) {
    throw new ModelLoadError(`'${file}' is not a TF.js model.json (no "modelTopology")`, { file });
  }
  if (!isObject(json.modelTopology)) throw new ModelLoadError(`'${file}': "modelTopology" must be an object`, { file });
  const mj = json as { modelTopology: object; weightsManifest?: unknown; format?: string; generatedBy?: string; convertedBy?: string; userDefinedMetadata?: unknown };
  const manifest = mj.weightsManifest ?? [];
  if (!Array.isArray(manifest)) throw new ModelLoadError(`'${file}': "weightsManifest" must be an array`, { file });
  const dir = path.dirname(path.resolve(file));
  const specs: WeightSpec[] = [];
  const buffers: Uint8Array[] = [];
  let total = 0;
  const names = new Set<string>();
  /** Each spec's bytes, and whether it is kept (not optimizer state). */
  const layout: { size: number; keep: boolean }[] = [];
  for (const [gi, group] of manifest.entries()) {
    const g: { paths?: unknown; weights?: unknown } = isObject(group) ? group : {};
    if (!Array.isArray(g.paths) || !Array.isArray(g.weights)) throw new ModelLoadError(`'${file}': weightsManifest[${gi}] needs "paths" and "weights" arrays`, { file });
    let expected = 0;
    for (const w of g.weights as WeightSpec[]) {
      if (!w || typeof w.name !== 'string' || !Array.isArray(w.shape) || !w.shape.every((d) => Number.isInteger(d) && d >= 0)) {
        throw new ModelLoadError(`'${file}': weightsManifest[${gi}] has a malformed weight entry`, { file });
      }
      checkWeightDtypes(w, file);
      // TF.js decodes every entry but keeps the last of a name (the others' tensors are never released)
      if (names.has(w.name)) throw new ModelLoadError(`'${file}': weight '${preview(w.name)}' is listed twice in the manifest`, { file, weight: preview(w.name) });
      names.add(w.name);

      const dtype = w.quantization?.dtype ?? w.dtype;
      const bytes = Object.hasOwn(DTYPE_BYTES, dtype) ? DTYPE_BYTES[dtype] : undefined;
      if (!bytes) throw new ModelLoadError(`'${file}': weight '${w.name}' has unsupported dtype '${w.quantization?.dtype ?? w.dtype}'`, { file, weight: w.name });
      const size = w.shape.reduce((a, b) => a * b, 1) * bytes;
      expected += size;
      // optimizer state (saved with includeOptimizer) is dropped below: attrib trains nothing, and
      // tfjs-layers keeps those tensors when a build fails
      layout.push({ size, keep: (w as { group?: unknown }).group !== 'optimizer' });
      specs.push(w);
    }
    let got = 0;
    for (const p of g.paths as unknown[]) {
      if (typeof p !== 'string') throw new ModelLoadError(`'${file}': weight paths must be strings`, { file });
      let decoded: string;
      try {
        decoded = decodeURIComponent(p);
      } catch (e) {
        throw new ModelLoadError(`'${file}': weight path '${p}' is not a valid URI-encoded path`, { file, path: p }, e);
      }
      const resolved = path.resolve(dir, decoded);
      if (path.isAbsolute(p) || (!resolved.startsWith(dir + path.sep) && resolved !== dir)) {
        throw new ModelLoadError(`'${file}': weight path '${p}' points outside the model's directory`, { file, path: p });
      }
      const ws = await fs.stat(resolved).catch((e: unknown) => {
        throw new ModelLoadError(`Weight file '${resolved}' named by '${file}' is missing`, { file, weights: resolved }, e);
      });
      // symlinks resolved on both sides: a weights.bin linking out of the model's folder is refused
      const [realDir, realFile] = [await fs.realpath(dir), await fs.realpath(resolved)];
      if (!realFile.startsWith(realDir + path.sep)) {
        throw new ModelLoadError(`'${file}': weight path '${p}' resolves (through a symbolic link) to '${realFile}', outside the model's directory`, { file, path: p, realPath: realFile });
      }
      total += ws.size;
      if (total > maxWeights) throw new ModelLoadError(`'${file}': weight files exceed the ${maxWeights}-byte limit`, { file });
      const buf = await fs.readFile(realFile);
      got += buf.byteLength;
      buffers.push(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
    }
    if (got !== expected) {
      throw new ModelLoadError(
        `Weight files of '${file}' (group ${gi}) hold ${got} bytes but the manifest declares ${expected}: ${got < expected ? 'truncated' : 'oversized'} or mismatched files`,
        { file, expected, actual: got },
      );
    }
  }
  const all = new Uint8Array(total);
  let off = 0;
  for (const b of buffers) all.set(b, off), (off += b.byteLength);
  let weightData = all;
  if (layout.some((l) => !l.keep)) {
    weightData = new Uint8Array(layout.reduce((a, l) => a + (l.keep ? l.size : 0), 0));
    let [from, to] = [0, 0];
    for (const l of layout) {
      if (l.keep) weightData.set(all.subarray(from, from + l.size), to), (to += l.size);
      from += l.size;
    }
  }
  return {
    modelTopology: mj.modelTopology,
    weightSpecs: specs.filter((_, i) => layout[i]!.keep) as tf.io.WeightsManifestEntry[],
    weightData: weightData.buffer,
    ...(mj.format ? { format: mj.format } : {}),
    ...(mj.generatedBy ? { generatedBy: mj.generatedBy } : {}),
    ...(mj.convertedBy ? { convertedBy: mj.convertedBy } : {}),
    ...(isObject(mj.userDefinedMetadata) ? { userDefinedMetadata: definedValues(mj.userDefinedMetadata) } : {}),
  };
}

async function loadTfjsModel(file: string, opts: LoadModelOptions): Promise<ModelAdapter> {
  const artifacts = await readModelArtifacts(file, opts);
  const topo = artifacts.modelTopology as Record<string, unknown>;
  const isGraph = artifacts.format === 'graph-model' || 'node' in topo;
  if (!isGraph) checkLayerNames(topo, file);
  // variables that tfjs-layers made for a model it then failed to build are released (see below)
  let before: ReadonlySet<string> | undefined;
  const handler: tf.io.IOHandler = {
    load: async () => {
      before = new Set(Object.keys(tf.engine().registeredVariables));
      return artifacts;
    },
  };
  // one build at a time, so that the variables released on failure are this build's own
  const turn = building;
  let done = (): void => undefined;
  building = new Promise<void>((resolve) => (done = resolve));
  await turn;
  try {
    await tf.ready(); // waits for the backend in force (never chooses one)
    if (isGraph) {
      const tfc = (await importPeer('@tensorflow/tfjs-converter')) as typeof Tfc;
      const graph = await tfc.loadGraphModel(handler);
      try {
        return fromGraphModel(graph, { name: opts.name ?? file, ...(opts.memoryBudgetBytes === undefined ? {} : { memoryBudgetBytes: opts.memoryBudgetBytes }) });
      } catch (e) {
        graph.dispose(); // its weights are not variables: releaseNewVariables would not free them
        throw e;
      }
    }
    return fromLayersModel(await releasingFailedWeights(() => tfl.loadLayersModel(handler)), { name: opts.name ?? file });
  } catch (e) {
    if (before) releaseNewVariables(before);
    if (e instanceof AttributionError) throw e;
    throw new ModelLoadError(`Cannot build the TF.js model in '${file}': ${(e as Error).message.split('\n')[0]}`, { file }, e);
  } finally {
    done();
  }
}

/** Weight dtypes TF.js decodes, and the quantizations it decodes them from. */
const WEIGHT_DTYPES = new Set(['float32', 'int32', 'bool']);
const QUANTIZED: Readonly<Record<string, readonly string[]>> = { uint8: ['float32', 'int32'], uint16: ['float32', 'int32'], float16: ['float32'] };

/**
 * A weight's dtype and quantization as TF.js decodes them: checked here because TF.js throws from the
 * middle of decoding a manifest, after making the tensors of the weights before it (never released).
 */
function checkWeightDtypes(w: WeightSpec, file: string): void {
  const q = (w as { quantization?: unknown }).quantization;
  if (typeof w.dtype !== 'string' || !WEIGHT_DTYPES.has(w.dtype)) {
    throw new ModelLoadError(`'${file}': weight '${preview(w.name)}' has unsupported dtype ${typeof w.dtype === 'string' ? `'${w.dtype.slice(0, 80)}'` : preview(w.dtype)}`, { file, weight: preview(w.name) });
  }
  if (q === undefined) return;
  const qd = isObject(q) ? q['dtype'] : undefined;
  const allowed = typeof qd === 'string' && Object.hasOwn(QUANTIZED, qd) ? QUANTIZED[qd] : undefined;
  if (!isObject(q) || !allowed || !allowed.includes(w.dtype)) {
    throw new ModelLoadError(`'${file}': weight '${preview(w.name)}' has an unsupported quantization ${preview(q)} for dtype '${w.dtype}'`, { file, weight: preview(w.name) });
  }
  if (qd !== 'float16' && !(Number.isFinite(q['min']) && Number.isFinite(q['scale']))) {
    throw new ModelLoadError(`'${file}': weight '${preview(w.name)}' is quantized to ${qd} without finite "min" and "scale"`, { file, weight: preview(w.name) });
  }
}

/** tfjs-layers' rule for tensor (and so layer) names. */
const TENSOR_NAME = /^[A-Za-z0-9][-A-Za-z0-9._/]*$/;

/**
 * Refuses a layer whose `config.name` tfjs-layers would reject when it names the layer's weights:
 * it throws only after making the initial value, a tensor it never releases.
 */
function checkLayerNames(topo: unknown, file: string): void {
  const stack: unknown[] = [topo];
  for (let seen = 0; stack.length > 0 && seen < 1_000_000; seen++) {
    const v = stack.pop();
    if (Array.isArray(v)) stack.push(...v);
    else if (isObject(v)) {
      const config = v['config'];
      if (typeof v['class_name'] === 'string' && isObject(config) && 'name' in config) {
        const name = config['name'];
        if (name !== null && name !== undefined && (typeof name !== 'string' || !TENSOR_NAME.test(name))) {
          throw new ModelLoadError(`Layer name ${preview(name)} in '${file}' is not a valid TF.js name (a letter or digit, then letters, digits, '-', '.', '_' or '/')`, { file, layer: preview(name) });
        }
      }
      for (const child of Object.values(v)) if (typeof child === 'object' && child !== null) stack.push(child);
    }
  }
}

type LoadWeights = (weights: tf.NamedTensorMap, strict?: boolean) => void;

/**
 * Runs one (serialized) layers-model build with tfjs-layers' `loadWeights` wrapped so that, when it
 * throws (a manifest weight that no layer has, a shape that differs), the weight tensors it was given
 * are disposed: tfjs-layers decodes them before matching and releases them only on success. The
 * wrapper is in place for this build only, so other callers of tfjs-layers keep its own behaviour.
 */
async function releasingFailedWeights<T>(build: () => Promise<T>): Promise<T> {
  let owner: object | null = tfl.LayersModel.prototype;
  while (owner && !Object.prototype.hasOwnProperty.call(owner, 'loadWeights')) owner = Object.getPrototypeOf(owner) as object | null;
  if (!owner) return build();
  const target = owner as { loadWeights: LoadWeights };
  const original = target.loadWeights;
  target.loadWeights = function (this: unknown, weights: tf.NamedTensorMap, strict?: boolean): void {
    try {
      original.call(this, weights, strict);
    } catch (e) {
      tf.dispose(Object.values(weights));
      throw e;
    }
  };
  try {
    return await build();
  } finally {
    target.loadWeights = original;
  }
}

/** The TF.js model build in progress (builds are serialized: see `loadTfjsModel`). */
let building: Promise<void> = Promise.resolve();

/**
 * Disposes the variables registered since `before`: those of the layers tfjs-layers built before a
 * malformed layer config (or a weight that fits no layer) stopped it; it does not release them itself.
 */
function releaseNewVariables(before: ReadonlySet<string>): void {
  const vars = tf.engine().registeredVariables;
  for (const name of Object.keys(vars)) if (!before.has(name)) vars[name]!.dispose();
}
