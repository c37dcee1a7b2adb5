// The studio's routes for the other kinds of attribution: a transformer's components (layer × head
// maps), the sources of a context (a local model), a test example's training-data proponents and
// opponents. One run at a time (429 while one runs); each is cancelled when its request is.
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { InvalidArgumentError } from '../../core/errors.js';
import { COMPONENT_METHOD_IDS } from '../../components/component-methods.js';
import { attributeContext, CONTEXT_METHODS, type ContextMethodId } from '../../context/attribute-context.js';
import { SOURCE_UNITS, type SourceUnit } from '../../context/sources.js';
import { GradientSimilarity } from '../../data/grad-similarity.js';
import { InfluenceFunctions } from '../../data/influence.js';
import type { Examples } from '../../data/loss.js';
import { OnnxTrainingModel } from '../../data/onnx/training-model.js';
import { TracIn } from '../../data/tracin.js';
import { Trak } from '../../data/trak.js';
import { loadTokenizer } from '../../io/load-tokenizer.js';
import type { TensorData } from '../../io/tensor-json.js';
import { componentsCommand } from '../commands/components.js';
import { contextJson } from '../commands/context.js';
import { openLocalScorer } from '../commands/context-local.js';
import { topScores } from '../commands/data-report.js';
import { kindFolder, listKinds, readDataArrays, readDataFile } from './kinds.js';
import { StudioRequestError, type ModelStore } from './models.js';

/** The training-data methods the studio offers (`attrib data` has these and magic). */
export const STUDIO_DATA_METHODS = ['influence', 'trak', 'tracin', 'grad-dot', 'grad-cos'] as const;
/** Largest request body of these routes (a context of up to 256 KiB and its query). */
const MAX_BODY = 512 * 1024;
/** Forward runs of the local model one context run may use (32 prompts each). */
const MAX_CONTEXT_RUNS = 4096;
/** Largest ablation count and proponents per side the page may ask for. */
const MAX_ABLATIONS = 4096;
const MAX_TOP = 20;
/** Largest example row sent back whole (a 64 × 64 RGB image); longer rows are cut to their first features (the page then shows them as table rows). */
const MAX_ROW = 64 * 64 * 3;

type Body = Record<string, unknown>;

/** Adds `GET /api/kinds`, `POST /api/components`, `POST /api/context` and `POST /api/data` to `app`. */
export function addKindRoutes(app: Hono, store: ModelStore): void {
  let busy = false;
  const once = async <T>(run: () => Promise<T>): Promise<T> => {
    if (busy) throw new StudioRequestError(429, 'Another components, context or data run is in progress; wait for it to finish');
    busy = true;
    try {
      return await run();
    } finally {
      busy = false;
    }
  };
  const limit = bodyLimit({ maxSize: MAX_BODY, onError: (c) => c.json({ error: { code: 'too_large', message: `A request is at most ${MAX_BODY} bytes` } }, 413) });
  const body = async (req: Request): Promise<Body> => {
    const b: unknown = await req.json().catch(() => undefined);
    if (typeof b !== 'object' || b === null || Array.isArray(b)) throw new InvalidArgumentError('The request body must be a JSON object', { arg: 'body' });
    return b as Body;
  };

  app.get('/api/kinds', async (c) => c.json(await listKinds(store)));
  app.post('/api/components', limit, async (c) => {
    const b = await body(c.req.raw);
    const dir = await kindFolder(store, 'transformer', b['model']);
    return c.json(await once(() => runComponents(dir, b, c.req.raw.signal)));
  });
  app.post('/api/context', limit, async (c) => {
    const b = await body(c.req.raw);
    const dir = await kindFolder(store, 'transformer', b['model']);
    return c.json(await once(() => runContext(dir, b, c.req.raw.signal)));
  });
  app.post('/api/data', limit, async (c) => {
    const b = await body(c.req.raw);
    const dir = await kindFolder(store, 'data', b['model']);
    return c.json(await once(() => runData(dir, b, c.req.raw.signal)));
  });
}

const bad = (field: string, want: string, got: unknown) => new InvalidArgumentError(`Field '${field}' must be ${want}; got ${JSON.stringify(got)?.slice(0, 80) ?? String(got)}`, { arg: field });
function str(b: Body, field: string, opts: { optional?: boolean; max?: number } = {}): string | undefined {
  const v = b[field];
  if (v === undefined || v === '') {
    if (opts.optional) return undefined;
    throw bad(field, 'given', v);
  }
  if (typeof v !== 'string' || v.length > (opts.max ?? 10_000)) throw bad(field, `a text of at most ${opts.max ?? 10_000} characters`, typeof v === 'string' ? `${v.slice(0, 20)}…` : v);
  return v;
}
function oneOf<T extends string>(b: Body, field: string, values: readonly T[], fallback: T): T {
  const v = b[field] ?? fallback;
  if (!values.includes(v as T)) throw bad(field, `one of ${values.join(', ')}`, v);
  return v as T;
}
function int(b: Body, field: string, min: number, max: number, fallback: number): number {
  const v = b[field] ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw bad(field, `an integer in [${min}, ${max}]`, v);
  return v;
}

/**
 * Runs `attrib components` on folder `dir`: clean `tokens` (ids, e.g. "0,5,9") or `text`, `corrupt`
 * (ids or text), `answer` and `wrong` (an id or a one-token text), `method`, `nodes`, `perPosition`.
 * Returns the command's JSON: `{method, metric, nodes: [{hook, layer, head, position, score}], diagnostics}`,
 * and `tokens` (the clean tokens as text) when the folder has a tokenizer.
 */
async function runComponents(dir: string, b: Body, signal: AbortSignal): Promise<unknown> {
  const raw = new Map<string, string | true>([
    ['model', dir],
    ['method', oneOf(b, 'method', COMPONENT_METHOD_IDS, 'direct-logit-attribution')],
    ['quiet', true],
  ]);
  // an entry of digits and commas is token ids, anything else a text for the tokenizer
  const ids = (field: string, idFlag: string, textFlag: string) => {
    const v = str(b, field, { optional: true, max: 20_000 });
    if (v !== undefined) raw.set(/^\s*\d+(\s*,\s*\d+)*\s*$/.test(v) ? idFlag : textFlag, v.trim());
  };
  ids('tokens', 'tokens', 'text');
  ids('corrupt', 'corrupt-tokens', 'corrupt-text');
  ids('answer', 'answer', 'answer-text');
  ids('wrong', 'wrong', 'wrong-text');
  const nodes = str(b, 'nodes', { optional: true, max: 100 });
  if (nodes !== undefined) raw.set('nodes', nodes);
  if (b['perPosition'] === true) raw.set('per-position', true);
  const { stdout } = await componentsCommand(raw, signal);
  const result = JSON.parse(stdout) as Record<string, unknown>;
  // the clean tokens as text, when the folder has a tokenizer (labels of the per-position maps)
  const text = raw.get('text');
  const clean = typeof text === 'string' ? undefined : String(raw.get('tokens')).split(',').map(Number);
  if (existsSync(path.join(dir, 'tokenizer.json'))) {
    const tk = await loadTokenizer(dir);
    result['tokens'] = tk.tokenStrings(clean ?? tk.encode(String(text), { addSpecialTokens: true, arg: 'text' }));
  }
  return result;
}

/**
 * Context attribution on the folder's local model (`attrib context --model DIR`): `context`, `query`,
 * `response` (generated greedily when empty), `method`, `ablations`, `sources`, `seed`. Returns the
 * command's JSON (`sources` with their scores, `response`, `diagnostics`).
 */
async function runContext(dir: string, b: Body, signal: AbortSignal): Promise<unknown> {
  const context = str(b, 'context', { max: 256 * 1024 })!;
  const query = str(b, 'query', { max: 10_000 })!;
  const response = str(b, 'response', { optional: true, max: 10_000 });
  const method = oneOf<ContextMethodId>(b, 'method', CONTEXT_METHODS, 'context-cite');
  const local = await openLocalScorer(dir, 32, MAX_CONTEXT_RUNS);
  try {
    const run = await attributeContext(local.scorer, {
      context,
      query,
      ...(response === undefined ? {} : { response }),
      sources: oneOf<SourceUnit>(b, 'sources', SOURCE_UNITS, 'sentences'),
      method,
      ablations: int(b, 'ablations', 1, MAX_ABLATIONS, 32),
      seed: int(b, 'seed', 0, 2 ** 31 - 1, 0),
      maxNewTokens: 32,
      signal,
    });
    try {
      return await contextJson(run, { api: 'local', endpoint: path.basename(dir), llm: undefined });
    } finally {
      run.dispose();
    }
  } finally {
    local.dispose();
  }
}

/** Row `i` of a tensor [n, …] (the first MAX_ROW values when longer). */
const rowOf = (t: TensorData, i: number): number[] => {
  const size = t.data.length / Math.max(1, t.shape[0]!);
  return Array.from(t.data.subarray(i * size, i * size + Math.min(size, MAX_ROW)));
};

/**
 * Training-data attribution of one test example (`test`, its index) of a data folder: `method`, `l2`,
 * `top`. Cross-entropy for class-id targets [n], mean squared error for [n, outputs]. Returns the test
 * example beside its `top` proponents and opponents (rows, targets, scores) and the row shape.
 */
async function runData(dir: string, b: Body, signal: AbortSignal): Promise<unknown> {
  const method = oneOf(b, 'method', STUDIO_DATA_METHODS, 'influence');
  const l2 = b['l2'] ?? 0.01;
  if (typeof l2 !== 'number' || !Number.isFinite(l2) || l2 < 0) throw bad('l2', 'a number ≥ 0', l2);
  const top = int(b, 'top', 1, MAX_TOP, 5);
  const arrays = await readDataArrays(dir);
  const m = arrays['test-x'].shape[0] ?? 0;
  const i = int(b, 'test', 0, Math.max(0, m - 1), 0);
  const train: Examples = { x: arrays['train-x'], y: arrays['train-y'] };
  const slice = (t: TensorData) => {
    const size = t.data.length / Math.max(1, t.shape[0]!);
    return { shape: [1, ...t.shape.slice(1)], data: t.data.subarray(i * size, (i + 1) * size) };
  };
  const test: Examples = { x: slice(arrays['test-x']), y: slice(arrays['test-y']) };
  const loss = arrays['train-y'].shape.length === 1 ? 'cross-entropy' : 'mse';
  const model = await OnnxTrainingModel.load(await readDataFile(dir, 'model.onnx', 2 ** 31 - 1), { stripSoftmax: loss === 'cross-entropy' });
  const control = { loss, signal } as const;
  try {
    const result = await (method === 'influence'
      ? new InfluenceFunctions(model, { l2 }).attribute(train, test, control)
      : method === 'trak'
        ? new Trak(model, { l2 }).attribute(train, test, control)
        : method === 'tracin'
          ? new TracIn(model).attribute(train, test, control)
          : new GradientSimilarity(model, method).attribute(train, test, control));
    try {
      const n = train.x.shape[0]!;
      const scores = (await result.values.data()) as Float32Array;
      const ranked = topScores(scores, 1, n, top)[0]!;
      const example = (t: TensorData, y: TensorData, j: number) => ({ x: rowOf(t, j), y: rowOf(y, j) });
      const side = (list: readonly { train: number; score: number }[]) => list.map((r) => ({ ...r, ...example(arrays['train-x'], arrays['train-y'], r.train) }));
      return {
        method,
        loss,
        l2,
        test: { index: i, ...example(arrays['test-x'], arrays['test-y'], i) },
        rowShape: arrays['train-x'].shape.slice(1),
        trainSize: n,
        testSize: m,
        proponents: side(ranked.proponents),
        opponents: side(ranked.opponents),
        sign: 'score > 0: removing the training example is predicted to raise the test loss (a proponent)',
        diagnostics: { evaluations: result.diagnostics.evaluations, elapsedMs: Math.round(result.diagnostics.elapsedMs) },
      };
    } finally {
      result.dispose();
    }
  } finally {
    model.dispose();
  }
}
