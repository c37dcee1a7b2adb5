// The demo's transformer part: the bundled induction GPT-2 (models/demo-induction, trained by
// scripts/train-induction.py), whose circuit activation patching and AtP* should find.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { activationPatching } from '../../components/activation-patching.js';
import { atpStar } from '../../components/atp-star.js';
import { attributionPatching } from '../../components/attribution-patching.js';
import type { NodeAttribution } from '../../components/node-attribution.js';
import { componentReportHtml } from '../../components/report.js';
import { Rng } from '../../core/random.js';
import { loadTransformer } from '../../io/load-transformer.js';

/** Tokens 1…31 are the random sequence's alphabet, 0 is BOS; the repeated half has n = 10 tokens. */
const [VOCAB, N] = [32, 10];

/** One demo row: method, ms, evaluations, and the top heads. */
export interface ComponentDemoRow {
  readonly method: string;
  readonly ms: number;
  readonly evaluations: number;
  readonly top: string;
}

/**
 * Runs activation patching, AtP and AtP* over the q/k/v/z heads of the induction model for one prompt
 * `[BOS] r_1 … r_10 r_1 … r_6` (answer r_7; the corrupt prompt's first copy is other random tokens, so
 * nothing can be copied), writes `components.html` (each method's layer × head maps and top nodes) and
 * returns one summary row per method. What it shows: the layer-1 heads' keys and values carry the
 * effect (the induction heads find the earlier copy through their keys); their attention is saturated,
 * so plain AtP misses the keys and AtP*'s QK fix finds them.
 */
export async function componentsDemo(packageRoot: string, outDir: string, signal: AbortSignal): Promise<{ rows: ComponentDemoRow[]; file: string }> {
  const model = await loadTransformer(path.join(packageRoot, 'models', 'demo-induction'), { sessionOptions: { intraOpNumThreads: 1 } });
  try {
    const rng = new Rng(2026);
    const draw = () => 1 + rng.int(VOCAB - 1);
    const r = Array.from({ length: N }, draw);
    const other = Array.from({ length: N }, draw);
    const k = 6;
    const tokens = [0, ...r, ...r.slice(0, k)];
    const corruptTokens = [0, ...other, ...r.slice(0, k)];
    const answer = r[k]!;
    let wrong = draw();
    while (wrong === answer) wrong = draw();
    const opts = { tokens, corruptTokens, answer, wrong, signal, nodes: ['z', 'q', 'k', 'v'] as const };
    const results: [string, NodeAttribution][] = [
      ['activation patching', await activationPatching(model, opts)],
      ['AtP', await attributionPatching(model, opts)],
      ['AtP*', await atpStar(model, opts)],
    ];
    const pages = results.map(([title, res]) => componentReportHtml(res, `${title}: [BOS] r₁…r₁₀ r₁…r₆ → r₇ (logit ${answer} − logit ${wrong})`));
    const file = path.join(outDir, 'components.html');
    await fs.mkdir(outDir, { recursive: true });
    await fs.writeFile(file, pages.join('\n'));
    const rows = results.map(([method, res]) => {
      const top = [...res.nodes].sort((a, b) => Math.abs(b.score) - Math.abs(a.score)).slice(0, 3);
      const row = { method, ms: res.diagnostics.elapsedMs, evaluations: res.diagnostics.evaluations, top: top.map((n) => `L${n.layer}H${n.head} ${n.hook.slice(-1)}`).join(', ') };
      res.dispose();
      return row;
    });
    return { rows, file };
  } finally {
    model.dispose();
  }
}
