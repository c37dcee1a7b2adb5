// Issue 15's local-model acceptance: ContextCite (32 ablations) over the 100 held-out fact-lookup
// questions, top-1 = supporting sentence and LDS (32 held-out ablations).
// Run: npx tsx scripts/context-local-acceptance.ts [MODEL_DIR] [QUESTIONS]
import '@tensorflow/tfjs-backend-cpu';
import { openLocalScorer } from '../src/cli/commands/context-local.js';
import { FACT_LOOKUP_DIR, factLookupFigures, heldoutQuestions } from '../test/fact-lookup.js';

const { scorer, dispose } = await openLocalScorer(process.argv[2] ?? FACT_LOOKUP_DIR, 64, undefined);
try {
  const t0 = performance.now();
  const f = await factLookupFigures(scorer, heldoutQuestions().slice(0, Number(process.argv[3] ?? 100)), { ablations: 32, lds: 32 });
  console.log(JSON.stringify({ ...f, seconds: Math.round((performance.now() - t0) / 100) / 10 }, null, 2));
} finally {
  dispose();
}
