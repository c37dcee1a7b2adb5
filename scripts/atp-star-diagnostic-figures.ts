// The figures of AtP*'s diagnostic on the two fixture transformers (docs/transformers.md): per case and
// per inclusion probability p, the Spearman correlation of the subset estimates of the unverified
// nodes with exact activation patching, θ* against the true max |c(n)| over them, evaluations and time.
// Run: nice -n 10 npx tsx scripts/atp-star-diagnostic-figures.ts [samples=1000] [p=0.05,0.1,0.25,0.5] [seeds=3] [correction=bonferroni|none]
import '@tensorflow/tfjs-backend-cpu';
import { activationPatching } from '../src/components/activation-patching.js';
import { atpStarDiagnostic } from '../src/components/atp-star-diagnostic.js';
import { nodeId } from '../src/components/nodes.js';
import { pearson } from '../src/core/linalg.js';
import { spearman } from '../src/core/rank.js';
import { loadTransformer } from '../src/io/load-transformer.js';
import { readFileSync } from 'node:fs';
import path from 'node:path';

// the fixtures of test/transformers.ts (which imports vitest, so not imported here)
const FIXTURES = path.join(import.meta.dirname, '..', 'test', 'fixtures', 'transformers');
const TRANSFORMER_MODELS = ['gpt2_induction', 'llama_induction'] as const;
const fixtureModelDir = (name: string) => path.join(FIXTURES, 'models', name);
interface Case { name: string; tokens: number[]; corrupt_tokens: number[]; answer: number; wrong: number }
const referenceCases = (name: string): Case[] => (JSON.parse(readFileSync(path.join(FIXTURES, 'reference', `${name}.json`), 'utf8')) as { cases: Case[] }).cases;

const samples = Number(process.argv[2] ?? 1000);
const ps = (process.argv[3] ?? '0.05,0.1,0.25,0.5').split(',').map(Number);
const seeds = Number(process.argv[4] ?? 3);
const correction = process.argv[5] === 'none' ? 'none' : 'bonferroni';
console.log('model case p | spearman(unverified est, exact) | pearson | θ* | max|c| unverified | every bound holds | θ* ≥ max|c| | flagged | evaluations | ms');
for (const name of TRANSFORMER_MODELS) {
  const model = await loadTransformer(fixtureModelDir(name), { sessionOptions: { intraOpNumThreads: 1 } });
  for (const c of referenceCases(name)) {
    const opts = { tokens: c.tokens, corruptTokens: c.corrupt_tokens, answer: c.answer, wrong: c.wrong };
    const ap = await activationPatching(model, opts);
    const exact = new Map(ap.nodes.map((n) => [nodeId(n), n.score]));
    ap.dispose();
    for (const p of ps) {
      const rows: number[][] = [];
      for (let seed = 0; seed < seeds; seed++) {
        const d = await atpStarDiagnostic(model, { ...opts, samples, inclusionProbability: p, seed, correction });
        const truth = d.unverified.map((u) => exact.get(nodeId(u))!);
        const rho = spearman(d.unverified.map((u) => u.estimate), truth);
        const r = pearson(d.unverified.map((u) => u.estimate), truth);
        const max = Math.max(...truth.map(Math.abs));
        const covered = d.unverified.every((u) => u.upperBound >= Math.abs(exact.get(nodeId(u))!));
        rows.push([rho, r, d.thetaStar, max, covered ? 1 : 0, d.thetaStar >= max ? 1 : 0, d.flagged.length, d.diagnostics.evaluations, d.diagnostics.elapsedMs]);
      }
      const mean = (k: number) => rows.reduce((a, r) => a + r[k]!, 0) / rows.length;
      console.log(`${name} ${c.name} p=${p} | ${mean(0).toFixed(3)} (min ${Math.min(...rows.map((r) => r[0]!)).toFixed(3)}) | ${mean(1).toFixed(3)} | ${mean(2).toFixed(3)} | ${mean(3).toFixed(3)} | ${mean(4).toFixed(2)} | ${mean(5).toFixed(2)} | ${mean(6).toFixed(1)} | ${mean(7)} | ${mean(8).toFixed(0)}`);
    }
  }
  model.dispose();
}
