// npm run bench:components (or BENCH_ONLY=components npm run bench): attrib's component methods against
// plain PyTorch (bench/components_torch.py, Debian's python3-torch) on the bench model — a GPT-2
// with 6 layers, 8 heads, d_model 512, GPT-2's vocabulary (50257) and random weights (seeded), 64 tokens:
//   - AtP over every head's hook_z (2 forwards + 1 backward),
//   - activation patching of every head's hook_z (48 nodes, noising), batched,
// each side with the same thread count (BENCH_THREADS, default 1), timed in INTERLEAVED rounds (attrib,
// then PyTorch as model(tokens) runs it, then PyTorch unembedding the last position only; BENCH_REPEATS
// rounds, default 5, after one warm-up each) so machine load hits all alike.
// Prints the medians and the ratios attrib ÷ PyTorch per computation, and checks that both sides give the
// same scores (max |difference| ÷ max |score|). Also: runWithCache of every hook — RSS and ArrayBuffer
// growth against the bytes of the activations it returns.
// Env: BENCH_THREADS, BENCH_REPEATS, BENCH_VOCAB, BENCH_TORCH_BATCH (patched runs per PyTorch forward,
// default 16), BENCH_PYTHON (default /usr/bin/python3), BENCH_SKIP_TORCH=1 (attrib side only),
// BENCH_SKIP_MEMORY=1, BENCH_MEMORY_ONLY=1 (only the runWithCache memory line, in a fresh process).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { setupBackend } from '../src/cli/backend.js';
import { Rng } from '../src/core/random.js';
import { encodeSafetensors } from '../src/io/safetensors-write.js';
import { loadTransformer } from '../src/io/load-transformer.js';
import { activationPatching } from '../src/components/activation-patching.js';
import { attributionPatching } from '../src/components/attribution-patching.js';
import type { NodeAttribution } from '../src/components/node-attribution.js';
import type { ComponentOptions } from '../src/components/nodes.js';

const env = (name: string, dflt: number) => Number(process.env[name] ?? dflt);
const THREADS = env('BENCH_THREADS', 1);
const REPEATS = env('BENCH_REPEATS', 5);
const VOCAB = env('BENCH_VOCAB', 50257);
const TORCH_BATCH = env('BENCH_TORCH_BATCH', 16);
const [L, H, D, T] = [6, 8, 512, 64];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** A GPT-2 folder (config.json + model.safetensors) with N(0, 0.02²) weights, LayerNorm weights 1 + noise. */
function writeModel(dir: string): void {
  const rng = new Rng(14);
  const t: Record<string, { shape: number[]; data: Float32Array }> = {};
  const add = (name: string, shape: number[], std: number, mean = 0) => {
    const data = rng.fillNormal(new Float32Array(shape.reduce((a, b) => a * b, 1)), std);
    if (mean !== 0) for (let i = 0; i < data.length; i++) data[i]! += mean;
    t[name] = { shape, data };
  };
  add('wte.weight', [VOCAB, D], 0.02);
  add('wpe.weight', [1024, D], 0.01);
  for (let l = 0; l < L; l++) {
    const p = `h.${l}.`;
    for (const n of ['ln_1', 'ln_2']) add(`${p}${n}.weight`, [D], 0.05, 1), add(`${p}${n}.bias`, [D], 0.02);
    add(`${p}attn.c_attn.weight`, [D, 3 * D], 0.05), add(`${p}attn.c_attn.bias`, [3 * D], 0.02);
    add(`${p}attn.c_proj.weight`, [D, D], 0.02), add(`${p}attn.c_proj.bias`, [D], 0.02);
    add(`${p}mlp.c_fc.weight`, [D, 4 * D], 0.02), add(`${p}mlp.c_fc.bias`, [4 * D], 0.02);
    add(`${p}mlp.c_proj.weight`, [4 * D, D], 0.02), add(`${p}mlp.c_proj.bias`, [D], 0.02);
  }
  add('ln_f.weight', [D], 0.05, 1), add('ln_f.bias', [D], 0.02);
  writeFileSync(path.join(dir, 'model.safetensors'), encodeSafetensors(t));
  const config = { model_type: 'gpt2', n_layer: L, n_head: H, n_embd: D, vocab_size: VOCAB, n_positions: 1024, activation_function: 'gelu_new', layer_norm_epsilon: 1e-5 };
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
}

/** The PyTorch process: one JSON line per command. */
function startTorch(setupFile: string) {
  const py = spawn(process.env['BENCH_PYTHON'] ?? '/usr/bin/python3', [path.join(path.dirname(fileURLToPath(import.meta.url)), 'components_torch.py'), setupFile], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, OMP_NUM_THREADS: String(THREADS), MKL_NUM_THREADS: String(THREADS), OPENBLAS_NUM_THREADS: String(THREADS) } });
  const lines = createInterface({ input: py.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<Record<string, unknown>> => {
    const r = await lines.next();
    if (r.done) throw new Error('components_torch.py exited early (is python3-torch installed?)');
    return JSON.parse(r.value) as Record<string, unknown>;
  };
  return {
    ready: next,
    async run(cmd: string): Promise<{ ms: number; scores: number[] }> {
      py.stdin.write(`${cmd}\n`);
      const out = await next();
      return { ms: out['ms'] as number, scores: out['scores'] as number[] };
    },
    stop: () => py.stdin.end(),
  };
}

const relDiff = (a: readonly number[], b: readonly number[]) => {
  const scale = Math.max(...a.map(Math.abs));
  return Math.max(...a.map((x, i) => Math.abs(x - b[i]!))) / scale;
};

/** VmHWM / VmRSS of this process in bytes (Linux). */
const procStatus = (field: 'VmHWM' | 'VmRSS'): number => 1024 * Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? NaN);

/**
 * Memory of a runWithCache of every hook, warm (its session compiled by a first call): the peak RSS
 * growth during the call (Linux: the high-water mark is reset through /proc/self/clear_refs just
 * before it), the RSS and the ArrayBuffer bytes still held after it, against the bytes it returns.
 */
async function cacheMemory(model: Awaited<ReturnType<typeof loadTransformer>>, tokens: number[]): Promise<void> {
  await model.runWithCache(tokens); // compile the variant first (its weights and arena are the model's, not the cache's)
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const ab0 = process.memoryUsage().arrayBuffers;
  writeFileSync('/proc/self/clear_refs', '5'); // peak RSS := current RSS
  const rss0 = procStatus('VmHWM');
  const out = await model.runWithCache(tokens);
  const peak = procStatus('VmHWM') - rss0;
  gc?.();
  const [held, ab] = [procStatus('VmRSS') - rss0, process.memoryUsage().arrayBuffers - ab0];
  let bytes = out.logits.data.byteLength;
  for (const v of out.cache.values()) bytes += v.data.byteLength;
  const mb = (x: number) => `${(x / 2 ** 20).toFixed(1)} MiB`;
  const of = (x: number) => `${mb(x)} (${(x / bytes).toFixed(2)}×)`;
  console.log(`runWithCache, all ${out.cache.size} hooks + logits: returns ${mb(bytes)}; peak RSS growth ${of(peak)}, RSS held ${of(held)}, ArrayBuffers held ${of(ab)}${gc ? '' : ' (run node with --expose-gc for exact figures)'}`);
}

async function main(): Promise<void> {
  await setupBackend('cpu', true); // the results' score tensors
  const dir = mkdtempSync(path.join(os.tmpdir(), 'attrib-bench-components-'));
  try {
    writeModel(dir);
    const rng = new Rng(7);
    const tokens = Array.from({ length: T }, () => rng.int(VOCAB));
    const corrupt = tokens.map((t, i) => (i % 8 === 3 ? rng.int(VOCAB) : t));
    const [answer, wrong] = [rng.int(VOCAB), rng.int(VOCAB)];
    const setup = path.join(dir, 'setup.json');
    writeFileSync(setup, JSON.stringify({ model: dir, tokens, corrupt, answer, wrong, threads: THREADS, batch: TORCH_BATCH }));
    const model = await loadTransformer(dir, { sessionOptions: { intraOpNumThreads: THREADS, interOpNumThreads: 1, executionMode: 'sequential' } });
    // memory first, before the timings' sessions come and go
    if (process.env['BENCH_SKIP_MEMORY'] !== '1') await cacheMemory(model, tokens);
    if (process.env['BENCH_MEMORY_ONLY'] === '1') {
      model.dispose();
      return;
    }
    const opts: ComponentOptions = { tokens, corruptTokens: corrupt, answer, wrong, nodes: ['z'] };
    const ours = {
      atp: () => attributionPatching(model, opts),
      patch: () => activationPatching(model, opts),
    };
    const torch = process.env['BENCH_SKIP_TORCH'] === '1' ? undefined : startTorch(setup);
    if (torch) console.log(`PyTorch: ${JSON.stringify(await torch.ready())}`);
    console.log(`model: GPT-2 ${L} layers, ${H} heads, d_model ${D}, vocab ${VOCAB}, ${T} tokens; threads ${THREADS}; PyTorch batch ${TORCH_BATCH}; ${REPEATS} interleaved rounds`);
    for (const kind of ['atp', 'patch'] as const) {
      const times = { ours: [] as number[], plain: [] as number[], last: [] as number[] };
      let scores: { ours: number[]; torch?: number[] } = { ours: [] };
      for (let round = -1; round < REPEATS; round++) {
        const t0 = performance.now();
        const r: NodeAttribution = await ours[kind]();
        const ms = performance.now() - t0;
        scores = { ours: r.nodes.map((n) => n.score) };
        r.dispose();
        const plain = torch ? await torch.run(kind) : undefined;
        const last = torch ? await torch.run(`${kind}-last`) : undefined;
        if (plain) scores.torch = plain.scores;
        if (round < 0) continue; // warm-up: compiles sessions / first allocations on both sides
        times.ours.push(ms);
        if (plain && last) times.plain.push(plain.ms), times.last.push(last.ms);
      }
      const a = median(times.ours);
      const what = kind === 'atp' ? 'AtP, all z nodes' : 'activation patching, 48 z nodes';
      if (!torch) {
        console.log(`${what}: attrib ${a.toFixed(0)} ms`);
        continue;
      }
      const [b, c] = [median(times.plain), median(times.last)];
      console.log(`${what}: attrib ${a.toFixed(0)} ms; PyTorch ${b.toFixed(0)} ms (ratio ${(a / b).toFixed(2)}×), PyTorch unembedding the last position only ${c.toFixed(0)} ms (ratio ${(a / c).toFixed(2)}×); scores agree to ${relDiff(scores.torch!, scores.ours).toExponential(1)} of max |score|`);
    }
    torch?.stop();
    const weights = 4 * (VOCAB * D + 1024 * D + L * (12 * D * D + 13 * D) + 2 * D);
    console.log(`process RSS after the timings: ${(procStatus('VmRSS') / 2 ** 20).toFixed(0)} MiB (weights ${(weights / 2 ** 20).toFixed(0)} MiB; each compiled session holds its own copy)`);
    model.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
