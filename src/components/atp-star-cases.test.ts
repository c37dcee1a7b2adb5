// The two failure modes of AtP that AtP* fixes, on hand-built 2-layer GPT-2 models:
// a saturated attention key (QK fix) and a direct effect cancelled downstream (GradDrop).
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../test/backend.js';
import { SafetensorsFile } from '../io/safetensors.js';
import { encodeSafetensors } from '../io/safetensors-write.js';
import { parseTransformerConfig } from '../models/transformer/config.js';
import { HookedTransformer } from '../models/transformer/hooked-transformer.js';
import { activationPatching } from './activation-patching.js';
import { atpStar } from './atp-star.js';
import { attributionPatching } from './attribution-patching.js';
import { nodeId, type ComponentOptions } from './nodes.js';

const D = 8; // residual: coordinates 0, 1 hold ±100 in every token (LayerNorm's scale stays ≈ 50, so the norms are ≈ linear); 2…7 one-hot tokens
const V = 6;

/** A GPT-2 (1 head, d 8, 2 layers, ReLU MLP) with all weights zero but the embeddings and norms, then `set` edits. */
function gpt2(set: (w: (name: string, index: number, value: number) => void) => void): HookedTransformer {
  const shapes: Record<string, number[]> = { 'wte.weight': [V, D], 'wpe.weight': [8, D], 'ln_f.weight': [D], 'ln_f.bias': [D] };
  for (const l of [0, 1]) {
    Object.assign(shapes, {
      [`h.${l}.ln_1.weight`]: [D], [`h.${l}.ln_1.bias`]: [D], [`h.${l}.ln_2.weight`]: [D], [`h.${l}.ln_2.bias`]: [D],
      [`h.${l}.attn.c_attn.weight`]: [D, 3 * D], [`h.${l}.attn.c_attn.bias`]: [3 * D], [`h.${l}.attn.c_proj.weight`]: [D, D], [`h.${l}.attn.c_proj.bias`]: [D],
      [`h.${l}.mlp.c_fc.weight`]: [D, 4 * D], [`h.${l}.mlp.c_fc.bias`]: [4 * D], [`h.${l}.mlp.c_proj.weight`]: [4 * D, D], [`h.${l}.mlp.c_proj.bias`]: [D],
    });
  }
  const t = Object.fromEntries(Object.entries(shapes).map(([k, s]) => [k, { shape: s, data: new Float32Array(s.reduce((a, b) => a * b, 1)) }]));
  for (let tok = 0; tok < V; tok++) (t['wte.weight']!.data[tok * D] = 100), (t['wte.weight']!.data[tok * D + 1] = -100), (t['wte.weight']!.data[tok * D + 2 + tok] = 1);
  // norms pass the token coordinates through (≈ ×50 / 50) and drop the big constant
  for (const n of ['ln_f.weight', 'h.0.ln_1.weight', 'h.0.ln_2.weight', 'h.1.ln_1.weight', 'h.1.ln_2.weight']) for (let i = 2; i < D; i++) t[n]!.data[i] = 50;
  set((name, index, value) => (t[name]!.data[index] = value));
  const config = parseTransformerConfig({ model_type: 'gpt2', n_layer: 2, n_head: 1, n_embd: D, vocab_size: V, n_positions: 8, activation_function: 'relu' });
  return HookedTransformer.create(config, SafetensorsFile.parse(encodeSafetensors(t)), ort);
}

/** Scores by node id. */
async function scores(model: HookedTransformer, opts: ComponentOptions) {
  const [ap, atp, star] = [await activationPatching(model, opts), await attributionPatching(model, opts), await atpStar(model, opts)];
  const by = (r: typeof ap) => new Map(r.nodes.map((n) => [nodeId(n), n.score]));
  const rank = new Map([...star.nodes].sort((a, b) => b.score - a.score).map((n, i) => [nodeId(n), i]));
  const out = { ap: by(ap), atp: by(atp), star: by(star), starRank: rank };
  [ap, atp, star].forEach((r) => r.dispose());
  return out;
}

beforeAll(() => useBackend('cpu'));

describe('AtP* fixes what AtP misses', () => {
  it('saturated attention: AtP sees < 1/5 of a key node’s effect, AtP* (QK fix) is within 10 %', async () => {
    // layer 1: a constant query (bias) meets a large key only on token 1, so the last position attends
    // to it with probability ≈ 1; values carry the token, written back ×5. Corrupting token 1 → 2 makes
    // attention uniform. Layer 0 and both MLPs are zero.
    const model = gpt2((w) => {
      const attn = 'h.1.attn.c_attn.weight';
      w('h.1.attn.c_attn.bias', 0, 10); // q = 10·e0 everywhere
      w(attn, 3 * (3 * D) + D + 0, 6); // k[0] = 6 · (token 1's coordinate 3)
      for (let j = 0; j < 6; j++) w(attn, (2 + j) * (3 * D) + 2 * D + j, 1); // v[j] = token coordinate 2 + j
      for (let j = 0; j < 6; j++) w('h.1.attn.c_proj.weight', j * D + 2 + j, 5); // z[j] → coordinate 2 + j, ×5
    });
    const opts = { tokens: [3, 1, 3, 0], corruptTokens: [3, 2, 3, 0], answer: 1, wrong: 3 };
    const s = await scores(model, opts);
    const key = 'blocks.1.attn.hook_k[head=0]';
    const truth = s.ap.get(key)!;
    expect(Math.abs(truth)).toBeGreaterThan(3);
    expect(Math.abs(s.atp.get(key)!)).toBeLessThan(Math.abs(truth) / 5);
    expect(Math.abs(s.star.get(key)! - Math.abs(truth))).toBeLessThan(0.1 * Math.abs(truth));
    model.dispose();
  });

  it('cancellation: a direct effect cancelled by a later MLP at the clean run is missed by AtP and in AtP*’s top 5', async () => {
    // layer 0 attends uniformly; its value u = 16·[token 2] − 1 (mean: +1 clean with one token 2, −3
    // without) goes to coordinate 7 (token 5's logit). Layer 1's ReLU MLP writes −relu(coordinate 7)
    // there: at the clean run it cancels u exactly (gradient 1 − 1 = 0), but not when u < 0.
    const model = gpt2((w) => {
      const attn = 'h.0.attn.c_attn.weight';
      w(attn, 4 * (3 * D) + 2 * D + 0, 16); // v[0] = 16 · (token 2's coordinate 4)
      w('h.0.attn.c_attn.bias', 2 * D + 0, -1);
      w('h.0.attn.c_proj.weight', 0 * D + 7, 1); // z[0] → coordinate 7
      w('h.1.mlp.c_fc.weight', 7 * (4 * D) + 0, 8 / 7); // pre[0] = coordinate 7 (×8/7 undoes ln_2's centring: ∂pre/∂u = 1)
      w('h.1.mlp.c_proj.weight', 0 * D + 7, -1); // coordinate 7 −= relu(pre[0])
    });
    const opts = { tokens: [3, 2, 3, 0], corruptTokens: [3, 4, 3, 0], answer: 5, wrong: 0 };
    const s = await scores(model, opts);
    const z = 'blocks.0.attn.hook_z[head=0]';
    const truth = s.ap.get(z)!;
    expect(Math.abs(truth)).toBeGreaterThan(2);
    expect(Math.abs(s.atp.get(z)!)).toBeLessThan(0.1 * Math.abs(truth));
    expect(s.starRank.get(z)!).toBeLessThan(5);
    // GradDrop of block 1 leaves the direct effect: |Δu| ≈ 4
    expect(s.star.get(z)!).toBeGreaterThan(0.5 * Math.abs(truth));
    model.dispose();
  });
});
