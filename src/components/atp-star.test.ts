// AtP* on the reference transformers: it ranks q/k/v/z nodes closer to activation patching than AtP.
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../test/backend.js';
import { nodeKey as key, TRANSFORMER_MODELS, useTransformerFixture } from '../../test/transformers.js';
import { atpStar } from './atp-star.js';
import { spearman } from '../core/rank.js';


beforeAll(() => useBackend('cpu'));

describe.each(TRANSFORMER_MODELS)('AtP* on %s', (name) => {
  const fixture = useTransformerFixture(name);

  it('ranks q/k/v/z nodes like activation patching (Spearman ≥ 0.9 on average, above AtP), and reproduces the reference reading', async () => {
    let [star, plain] = [0, 0];
    const cases = fixture.cases();
    for (const c of cases) {
      const r = await atpStar(fixture.model(), { tokens: c.tokens, corruptTokens: c.corrupt_tokens, answer: c.answer, wrong: c.wrong });
      const ap = new Map(c.methods['activation-patching']!.nodes.map((n) => [key(n), n.score]));
      const atp = new Map(c.methods.atp!.nodes.map((n) => [key(n), n.score]));
      const attn = r.nodes.filter((n) => !n.hook.endsWith('mlp_out'));
      const truth = attn.map((n) => Math.abs(ap.get(key(n))!));
      star += spearman(attn.map((n) => n.score), truth) / cases.length;
      plain += spearman(attn.map((n) => Math.abs(atp.get(key(n))!)), truth) / cases.length;
      // the reference's informative AtP* follows the same reading: same numbers
      const ref = new Map(c.methods['atp-star']!.nodes.map((n) => [key(n), n.score]));
      const scale = Math.max(...[...ref.values()].map(Math.abs));
      for (const n of r.nodes) expect(Math.abs(n.score - ref.get(key(n))!) / scale, key(n)).toBeLessThan(1e-4);
      expect(r.nodes.every((n) => n.score >= 0)).toBe(true);
      r.dispose();
    }
    expect(star).toBeGreaterThanOrEqual(0.9);
    expect(star).toBeGreaterThan(plain);
  });

  it('the QK fix recovers the saturated key nodes plain AtP misses (kind B cases)', async () => {
    let checked = 0;
    let [fixed, truthTotal] = [0, 0];
    for (const c of fixture.cases().filter((x) => x.kind === 'B')) {
      const r = await atpStar(fixture.model(), { tokens: c.tokens, corruptTokens: c.corrupt_tokens, answer: c.answer, wrong: c.wrong, gradDrop: false });
      expect(r.diagnostics.evaluations).toBe(3);
      const ap = new Map(c.methods['activation-patching']!.nodes.map((n) => [key(n), n.score]));
      const atp = new Map(c.methods.atp!.nodes.map((n) => [key(n), n.score]));
      for (const n of r.nodes.filter((x) => x.hook.endsWith('hook_k') && Math.abs(ap.get(key(x))!) > 2)) {
        const [truth, plainAtp] = [ap.get(key(n))!, atp.get(key(n))!];
        expect(Math.abs(plainAtp)).toBeLessThan(Math.abs(truth) / 5); // saturated softmax: the linearisation sees ~0
        expect(Math.abs(n.score)).toBeGreaterThan(5 * Math.abs(plainAtp));
        fixed += Math.abs(n.score);
        truthTotal += Math.abs(truth);
        checked++;
      }
      r.dispose();
    }
    expect(checked).toBeGreaterThanOrEqual(4);
    // downstream layers stay linearised, so part of the effect is still missed (measured: 53 % GPT-2, 35 % LLaMA)
    expect(fixed / truthTotal).toBeGreaterThan(0.3);
  });
});
