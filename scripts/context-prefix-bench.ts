// Speed of the local scorer's shared-prefix reuse (issue 15): ContextCite (64 ablations, 32 prompts per
// forward run) over prompts that share a long preamble before the context, with the prefix computed
// once per run (`sharedPrefix` 16, the default) against every prompt recomputed in full (0). The
// model is a random-weight LLaMA (RoPE, GQA) big enough that forward runs dominate; the word-level
// tokenizer of the fact-lookup fixture. Runs alternate (reuse, full, reuse, …) so load drifts hit both.
// Run: nice -n 10 npx tsx scripts/context-prefix-bench.ts [REPS] [PREAMBLE_SENTENCES]
import '@tensorflow/tfjs-backend-cpu';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { attributeContext } from '../src/context/attribute-context.js';
import { LocalLmApi } from '../src/context/scorers/local.js';
import { Rng } from '../src/core/random.js';
import { parseTransformerConfig } from '../src/models/transformer/config.js';
import { HookedTransformer } from '../src/models/transformer/hooked-transformer.js';
import type { WeightStore, WeightTensor } from '../src/models/transformer/weights.js';
import { WordLevelTokenizer } from '../src/models/transformer/word-level-tokenizer.js';
import { FACT_LOOKUP_DIR, heldoutQuestions } from '../test/fact-lookup.js';

const reps = Number(process.argv[2] ?? 3);
const preambleSentences = Number(process.argv[3] ?? 80);
const tokenizer = WordLevelTokenizer.fromJson(JSON.parse(readFileSync(path.join(FACT_LOOKUP_DIR, 'tokenizer.json'), 'utf8')));
const [d, heads, kvHeads, layers, mlp] = [256, 8, 4, 4, 688];
const config = parseTransformerConfig({
  model_type: 'llama', hidden_size: d, num_attention_heads: heads, num_key_value_heads: kvHeads, num_hidden_layers: layers,
  intermediate_size: mlp, vocab_size: tokenizer.size, max_position_embeddings: 1024, tie_word_embeddings: true,
});

/** Random weights (N(0, 0.05²), norms 1) under the LLaMA names, from a seeded Rng. */
function randomWeights(): WeightStore {
  const rng = new Rng(7);
  const dh = d / heads;
  const shapes: Record<string, number[]> = { 'model.embed_tokens.weight': [tokenizer.size, d], 'model.norm.weight': [d] };
  for (let l = 0; l < layers; l++) {
    const at = `model.layers.${l}.`;
    Object.assign(shapes, {
      [`${at}input_layernorm.weight`]: [d], [`${at}post_attention_layernorm.weight`]: [d],
      [`${at}self_attn.q_proj.weight`]: [heads * dh, d], [`${at}self_attn.k_proj.weight`]: [kvHeads * dh, d],
      [`${at}self_attn.v_proj.weight`]: [kvHeads * dh, d], [`${at}self_attn.o_proj.weight`]: [d, heads * dh],
      [`${at}mlp.gate_proj.weight`]: [mlp, d], [`${at}mlp.up_proj.weight`]: [mlp, d], [`${at}mlp.down_proj.weight`]: [d, mlp],
    });
  }
  const tensors = new Map<string, WeightTensor>();
  for (const [name, shape] of Object.entries(shapes)) {
    const n = shape.reduce((a, b) => a * b, 1);
    tensors.set(name, { shape, data: Float32Array.from({ length: n }, () => (name.endsWith('norm.weight') ? 1 : rng.normal() * 0.05)) });
  }
  return { names: [...tensors.keys()], has: (n) => tensors.has(n), get: (n) => tensors.get(n)! };
}

const model = HookedTransformer.create(config, randomWeights(), ort, { sessionOptions: { intraOpNumThreads: 1 } });
const qs = heldoutQuestions();
const preamble = qs.flatMap((q) => q.context.split(/(?<=\.) /)).slice(0, preambleSentences).join(' ');
const template = `Facts you may use: ${preamble}\n\nContext: {context}\n\nQuery: {query}\n\nAnswer: `;
const q = qs[0]!;

async function once(sharedPrefix: number, method: 'context-cite' | 'leave-one-out' = 'context-cite'): Promise<{ ms: number; scores: Float32Array; runs: number; tokens: number }> {
  const api = new LocalLmApi(model, tokenizer, { batchSize: 32, sharedPrefix });
  const t0 = performance.now();
  using run = await attributeContext(api, { context: q.context, query: q.query, response: q.response, template, method, ablations: 64, seed: 1, concurrency: 32 });
  const scores = Float32Array.from(await run.attribution.values.data());
  return { ms: performance.now() - t0, scores, runs: api.client.requests, tokens: tokenizer.encode(template.replace('{context}', q.context).replace('{query}', q.query)).length };
}

await once(16); // compile the sessions of both paths before timing
await once(0);
const times: Record<'reuse' | 'full', number[]> = { reuse: [], full: [] };
for (let r = 0; r < reps; r++) {
  const a = await once(16);
  const b = await once(0);
  times.reuse.push(a.ms), times.full.push(b.ms);
  if (r === 0) console.log(`prompt ${a.tokens} tokens; forward runs: reuse ${a.runs}, full ${b.runs}`);
}
// the same scores: leave-one-out (differences of log-probabilities, not sparsified by the Lasso)
const [looReuse, looFull] = [await once(16, 'leave-one-out'), await once(0, 'leave-one-out')];
let maxDiff = 0;
let maxAbs = 0;
for (let i = 0; i < looFull.scores.length; i++) (maxDiff = Math.max(maxDiff, Math.abs(looReuse.scores[i]! - looFull.scores[i]!))), (maxAbs = Math.max(maxAbs, Math.abs(looFull.scores[i]!)));
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
console.log(JSON.stringify({ reps, preambleSentences, msReuse: times.reuse.map(Math.round), msFull: times.full.map(Math.round), speedUp: Math.round((median(times.full) / median(times.reuse)) * 100) / 100, looMaxScoreDiff: maxDiff, looMaxScore: maxAbs }));
model.dispose();
