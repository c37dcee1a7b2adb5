// Loading Hugging Face folders: bad input (each a typed error naming the field), and the Qwen2 /
// Mistral variants (biases, tied embeddings, sliding window) checked by invariants on random weights.
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { removeTempDirs, ROOT, tempDir } from '../../test/reference.js';
import { Rng } from '../core/random.js';
import { parseTransformerConfig } from '../models/transformer/config.js';
import { HookedTransformer } from '../models/transformer/hooked-transformer.js';
import type { WeightStore } from '../models/transformer/weights.js';
import { loadTransformer } from './load-transformer.js';
import { SafetensorsFile } from './safetensors.js';
import { encodeSafetensors } from './safetensors-write.js';

afterAll(removeTempDirs);
const GPT2 = path.join(ROOT, 'test', 'fixtures', 'transformers', 'models', 'gpt2_induction');

/** A copy of the GPT-2 fixture folder with its config and weights rewritten. */
function variant(config: (c: Record<string, unknown>) => Record<string, unknown>, weights?: Uint8Array): string {
  const dir = tempDir();
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config(JSON.parse(readFileSync(path.join(GPT2, 'config.json'), 'utf8')) as Record<string, unknown>)));
  if (weights) writeFileSync(path.join(dir, 'model.safetensors'), weights);
  else copyFileSync(path.join(GPT2, 'model.safetensors'), path.join(dir, 'model.safetensors'));
  return dir;
}

/** Safetensors bytes with every tensor as BF16 (float32's top 16 bits, truncated). */
function bf16(file: SafetensorsFile, names: readonly string[]): Uint8Array {
  const header: Record<string, unknown> = {};
  let at = 0;
  for (const n of names) {
    const t = file.get(n);
    header[n] = { dtype: 'BF16', shape: t.shape, data_offsets: [at, at + 2 * t.data.length] };
    at += 2 * t.data.length;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + at);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let k = 8 + json.length;
  for (const n of names) for (const v of file.get(n).data) (view.setUint16(k, new Uint32Array(Float32Array.of(v).buffer)[0]! >>> 16, true), (k += 2));
  return out;
}

describe('loadTransformer: sharded and BF16 weights', () => {
  it('a folder of two shards (one of them BF16) with model.safetensors.index.json gives the F32 model’s logits to BF16 precision', async () => {
    const real = SafetensorsFile.parse(new Uint8Array(readFileSync(path.join(GPT2, 'model.safetensors'))));
    const half = real.names.filter((_, i) => i % 2 === 0);
    const rest = real.names.filter((_, i) => i % 2 === 1);
    const dir = tempDir();
    copyFileSync(path.join(GPT2, 'config.json'), path.join(dir, 'config.json'));
    writeFileSync(path.join(dir, 'model-00001-of-00002.safetensors'), bf16(real, half));
    writeFileSync(path.join(dir, 'model-00002-of-00002.safetensors'), encodeSafetensors(Object.fromEntries(rest.map((n) => [n, real.get(n)]))));
    const weightMap = Object.fromEntries([...half.map((n) => [n, 'model-00001-of-00002.safetensors']), ...rest.map((n) => [n, 'model-00002-of-00002.safetensors'])]);
    writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }));
    const [sharded, full] = [await loadTransformer(dir), await loadTransformer(GPT2)];
    const tokens = [0, 57, 38, 17, 39, 81, 68, 23, 11, 59, 57, 38, 17];
    const [a, b] = [await sharded.run(tokens), await full.run(tokens)];
    let [num, den] = [0, 0];
    for (let i = 0; i < a.data.length; i++) (num = Math.max(num, Math.abs(a.data[i]! - b.data[i]!))), (den = Math.max(den, Math.abs(b.data[i]!)));
    expect(num / den).toBeGreaterThan(0); // the BF16 shard was really read as BF16
    expect(num / den).toBeLessThan(0.05);
    sharded.dispose();
    full.dispose();
  });
});

describe('HookedTransformer: resources', () => {
  // each sequence length builds a graph holding a copy of every weight, and its sessions hold another:
  // kept for every length ever seen, memory grew with each new length
  it('keeps the graphs and sessions of a few sequence lengths only, releasing the others (and rebuilding them on demand)', async () => {
    const create = ort.InferenceSession.create.bind(ort.InferenceSession);
    let open = 0;
    const spy = vi.spyOn(ort.InferenceSession, 'create').mockImplementation(async (...args: Parameters<typeof create>) => {
      const session = await create(...args);
      open++;
      const release = session.release.bind(session);
      session.release = async () => {
        open--;
        return release();
      };
      return session;
    });
    try {
      const model = await loadTransformer(GPT2);
      const first = await model.run([1, 2]);
      for (let t = 3; t <= 12; t++) await model.run(Array.from({ length: t }, (_, i) => (i * 7) % 96));
      await new Promise((r) => setTimeout(r, 50)); // releases are not awaited by the model
      expect(open).toBeLessThanOrEqual(4);
      const again = await model.run([1, 2]);
      expect(Array.from(again.data)).toEqual(Array.from(first.data));
      model.dispose();
      await new Promise((r) => setTimeout(r, 50));
      expect(open).toBe(0);
    } finally {
      spy.mockRestore();
    }
  });
});

describe('loadTransformer: bad input', () => {
  it('an unknown model_type lists the supported ones', async () => {
    await expect(loadTransformer(variant((c) => ({ ...c, model_type: 'bert' })))).rejects.toMatchObject({
      code: 'invalid_model',
      details: { field: 'model_type', supported: ['gpt2', 'llama', 'qwen2', 'mistral'] },
      message: expect.stringMatching(/gpt2, llama, qwen2, mistral/),
    });
    await expect(loadTransformer(variant((c) => ({ ...c, n_head: 0 })))).rejects.toMatchObject({ code: 'invalid_model', details: { field: 'n_head' } });
    await expect(loadTransformer(tempDir())).rejects.toMatchObject({ code: 'invalid_file', details: { field: 'config.json' } });
  });

  // stat reports a device or pipe as empty: a config.json that is a FIFO (or → /dev/zero) must be refused, not read without end
  it.skipIf(process.platform === 'win32')('a config.json that is not a regular file (a FIFO, a symlink to /dev/zero) is refused without reading it', async () => {
    const fifo = tempDir();
    execFileSync('mkfifo', [path.join(fifo, 'config.json')]);
    await expect(loadTransformer(fifo)).rejects.toMatchObject({ code: 'invalid_file', details: { source: path.join(fifo, 'config.json') } });
    const zero = tempDir();
    symlinkSync('/dev/zero', path.join(zero, 'config.json'));
    await expect(loadTransformer(zero)).rejects.toMatchObject({ code: 'invalid_file', details: { source: path.join(zero, 'config.json') } });
  }, 5000);

  it('safetensors with a lying header, a missing tensor, a tensor of the wrong shape', async () => {
    const real = SafetensorsFile.parse(new Uint8Array(readFileSync(path.join(GPT2, 'model.safetensors'))));
    const lying = new Uint8Array(readFileSync(path.join(GPT2, 'model.safetensors')));
    new DataView(lying.buffer).setBigUint64(0, BigInt(lying.length), true);
    await expect(loadTransformer(variant((c) => c, lying))).rejects.toMatchObject({ code: 'invalid_file', details: { field: 'header_length' } });
    const without = (drop: string, reshape?: string) =>
      encodeSafetensors(Object.fromEntries(real.names.filter((n) => n !== drop).map((n) => [n, n === reshape ? { shape: [real.get(n).data.length], data: real.get(n).data } : real.get(n)])));
    await expect(loadTransformer(variant((c) => c, without('transformer.h.1.mlp.c_fc.bias')))).rejects.toMatchObject({ code: 'invalid_file', details: { tensor: 'transformer.h.1.mlp.c_fc.bias' } });
    await expect(loadTransformer(variant((c) => c, without('', 'transformer.h.0.attn.c_proj.weight')))).rejects.toMatchObject({
      code: 'invalid_model',
      details: { tensor: 'transformer.h.0.attn.c_proj.weight', expected: [64, 64], actual: [4096] },
    });
  });

  it('token ids out of the vocabulary, sequences longer than n_positions, ragged batches, unknown hooks, patches of the wrong size', async () => {
    const model = await loadTransformer(GPT2);
    try {
      await expect(model.run([0, 5, 96])).rejects.toMatchObject({ code: 'invalid_argument', details: { arg: 'tokens', field: 'vocab_size', position: 2, value: 96 } });
      await expect(model.run([0, -1])).rejects.toMatchObject({ code: 'invalid_argument', details: { field: 'vocab_size', value: -1 } });
      await expect(model.run(new Array(65).fill(1))).rejects.toMatchObject({ code: 'invalid_argument', details: { field: 'n_positions', seqLen: 65, maxPositions: 64 } });
      await expect(model.run([[1, 2], [3]])).rejects.toMatchObject({ code: 'invalid_argument', details: { arg: 'tokens', row: 1 } });
      await expect(model.run([])).rejects.toMatchObject({ code: 'invalid_argument', details: { arg: 'tokens' } });
      await expect(model.runWithCache([1, 2], ['blocks.7.hook_z'])).rejects.toMatchObject({ code: 'unknown_hook', details: { hook: 'blocks.7.hook_z' } });
      await expect(model.run([1, 2], { patches: { 'blocks.0.hook_mlp_out': new Float32Array(3) } })).rejects.toMatchObject({ code: 'invalid_argument', details: { hook: 'blocks.0.hook_mlp_out', expected: [1, 2, 64] } });
      await expect(model.gradients([1, 2], ['hook_embed'], new Float32Array(5))).rejects.toMatchObject({ code: 'invalid_argument', details: { arg: 'cotangent' } });
    } finally {
      model.dispose();
    }
    // LLaMA family: max_position_embeddings bounds the sequence too (the causal mask and rotary tables are T × T and T × d_head constants)
    const llama = await loadTransformer(path.join(ROOT, 'test', 'fixtures', 'transformers', 'models', 'llama_induction'));
    try {
      await expect(llama.run(new Array(65).fill(1))).rejects.toMatchObject({ code: 'invalid_argument', details: { field: 'max_position_embeddings', seqLen: 65, maxPositions: 64 } });
      // hookShape builds the graph of its length: the same bound, before the T × T mask is made
      expect(() => llama.hookShape('blocks.0.hook_mlp_out', 1e6)).toThrow(expect.objectContaining({ code: 'invalid_argument', details: expect.objectContaining({ arg: 'seqLen' }) }));
      expect(() => llama.hookShape('blocks.0.hook_mlp_out', 0)).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
      expect(llama.hookShape('blocks.0.hook_mlp_out', 64)).toEqual([64, 64]);
    } finally {
      llama.dispose();
    }
    const small = await loadTransformer(GPT2, { maxCacheBytes: 1000 });
    await expect(small.runWithCache([1, 2, 3])).rejects.toMatchObject({ code: 'budget_exceeded' });
    small.dispose();
  });
});

/** Random weights under Hugging Face LLaMA-family names. */
function randomLlamaWeights(c: { d: number; h: number; hkv: number; dh: number; m: number; v: number; layers: number }, bias: boolean, lmHead: boolean): WeightStore {
  const rng = new Rng(3);
  const t: Record<string, { shape: number[]; data: Float32Array }> = {};
  const add = (name: string, shape: number[], scale = 0.3) => (t[name] = { shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal() * scale) });
  add('model.embed_tokens.weight', [c.v, c.d]);
  add('model.norm.weight', [c.d]);
  if (lmHead) add('lm_head.weight', [c.v, c.d]);
  for (let l = 0; l < c.layers; l++) {
    const at = `model.layers.${l}.`;
    add(`${at}input_layernorm.weight`, [c.d]);
    add(`${at}post_attention_layernorm.weight`, [c.d]);
    add(`${at}self_attn.q_proj.weight`, [c.h * c.dh, c.d]);
    add(`${at}self_attn.k_proj.weight`, [c.hkv * c.dh, c.d]);
    add(`${at}self_attn.v_proj.weight`, [c.hkv * c.dh, c.d]);
    if (bias) for (const [p, n] of [['q', c.h], ['k', c.hkv], ['v', c.hkv]] as const) add(`${at}self_attn.${p}_proj.bias`, [n * c.dh]);
    add(`${at}self_attn.o_proj.weight`, [c.d, c.h * c.dh]);
    add(`${at}mlp.gate_proj.weight`, [c.m, c.d]);
    add(`${at}mlp.up_proj.weight`, [c.m, c.d]);
    add(`${at}mlp.down_proj.weight`, [c.d, c.m]);
  }
  return SafetensorsFile.parse(encodeSafetensors(t));
}

describe('Qwen2 and Mistral', () => {
  const dims = { d: 8, h: 4, hkv: 2, dh: 4, m: 12, v: 11, layers: 2 };
  const base = { hidden_size: 8, num_attention_heads: 4, num_key_value_heads: 2, intermediate_size: 12, vocab_size: 11, num_hidden_layers: 2, max_position_embeddings: 32, head_dim: 4 };

  it('Qwen2: q/k/v biases and tied embeddings (hook_q = normalized · W_Qᵀ + b_Q; logits = normalized · W_Eᵀ)', async () => {
    const weights = randomLlamaWeights(dims, true, false);
    const model = HookedTransformer.create(parseTransformerConfig({ ...base, model_type: 'qwen2' }), weights, ort);
    const tokens = [1, 4, 9, 2, 7];
    const { logits, cache } = await model.runWithCache(tokens, ['blocks.1.ln1.hook_normalized', 'blocks.1.attn.hook_q', 'ln_final.hook_normalized']);
    const x = cache.get('blocks.1.ln1.hook_normalized')!.data;
    const q = cache.get('blocks.1.attn.hook_q')!.data;
    const w = weights.get('model.layers.1.self_attn.q_proj.weight').data;
    const b = weights.get('model.layers.1.self_attn.q_proj.bias').data;
    let err = 0;
    for (let p = 0; p < tokens.length; p++) {
      for (let o = 0; o < 16; o++) {
        let s = b[o]!;
        for (let i = 0; i < 8; i++) s += x[p * 8 + i]! * w[o * 8 + i]!;
        err = Math.max(err, Math.abs(s - q[p * 16 + o]!));
      }
    }
    expect(err).toBeLessThan(1e-5);
    const f = cache.get('ln_final.hook_normalized')!.data;
    const e = weights.get('model.embed_tokens.weight').data;
    let lerr = 0;
    for (let p = 0; p < tokens.length; p++) {
      for (let t = 0; t < 11; t++) {
        let s = 0;
        for (let i = 0; i < 8; i++) s += f[p * 8 + i]! * e[t * 8 + i]!;
        lerr = Math.max(lerr, Math.abs(s - logits.data[p * 11 + t]!));
      }
    }
    expect(lerr).toBeLessThan(1e-5);
    model.dispose();
  });

  it('Qwen2 with use_sliding_window: the window applies from layer max_window_layers on, the layers below attend in full (as Hugging Face)', async () => {
    const model = HookedTransformer.create(parseTransformerConfig({ ...base, model_type: 'qwen2', use_sliding_window: true, sliding_window: 2, max_window_layers: 1 }), randomLlamaWeights(dims, true, false), ort);
    const T = 6;
    const { cache } = await model.runWithCache([1, 2, 3, 4, 5, 6], ['blocks.0.attn.hook_pattern', 'blocks.1.attn.hook_pattern']);
    for (const [layer, window] of [[0, Infinity], [1, 2]] as const) {
      const pat = cache.get(`blocks.${layer}.attn.hook_pattern`)!.data;
      for (let h = 0; h < 4; h++) {
        for (let q = 0; q < T; q++) {
          for (let k = 0; k < T; k++) {
            const v = pat[(h * T + q) * T + k]!;
            if (k > q || q - k >= window) expect(v, `layer ${layer} q ${q} k ${k}`).toBe(0);
            else expect(v, `layer ${layer} q ${q} k ${k}`).toBeGreaterThan(0);
          }
        }
      }
    }
    model.dispose();
  });

  it('Mistral: keys outside the sliding window get no attention; untied lm_head is required', async () => {
    const model = HookedTransformer.create(parseTransformerConfig({ ...base, model_type: 'mistral', sliding_window: 2 }), randomLlamaWeights(dims, false, true), ort);
    const { cache } = await model.runWithCache([1, 2, 3, 4, 5, 6], ['blocks.0.attn.hook_pattern']);
    const pat = cache.get('blocks.0.attn.hook_pattern')!.data;
    const T = 6;
    for (let h = 0; h < 4; h++) {
      for (let q = 0; q < T; q++) {
        for (let k = 0; k < T; k++) {
          const v = pat[(h * T + q) * T + k]!;
          if (k > q || q - k >= 2) expect(v).toBe(0);
          else expect(v).toBeGreaterThan(0);
        }
      }
    }
    model.dispose();
    expect(() => HookedTransformer.create(parseTransformerConfig({ ...base, model_type: 'llama' }), randomLlamaWeights(dims, false, false), ort)).toThrow(expect.objectContaining({ code: 'invalid_file', details: expect.objectContaining({ tensor: 'lm_head.weight' }) }));
  });
});
