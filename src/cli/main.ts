#!/usr/bin/env node
// attrib command line: a thin layer over the library.
import { exitCodeFor, isAttributionError, InvalidArgumentError } from '../core/errors.js';
import { readFileSync } from 'node:fs';
import { flagHelp, parseFlags, tokenize, wrap, type FlagSpec } from './args.js';
import { setupBackend } from './backend.js';
import { explainCommand, EXPLAIN_FLAGS, methodFlags } from './commands/explain.js';
import { methodsCommand, METHODS_FLAGS } from './commands/methods.js';
import { demoCommand, DEMO_FLAGS } from './commands/demo.js';
import { evaluateCommand, EVALUATE_FLAGS } from './commands/evaluate.js';
import { benchmarkCommand, BENCHMARK_FLAGS } from './commands/benchmark.js';
import { contextCommand, CONTEXT_FLAGS } from './commands/context.js';
import { componentsCommand, COMPONENTS_FLAGS } from './commands/components.js';
import { llmCommand, LLM_FLAGS } from './commands/llm.js';
import { studioCommand, STUDIO_FLAGS } from './commands/studio.js';
import { dataCommand, DATA_FLAGS } from './commands/data.js';
import { findMethod } from '../methods.js';
import { runCommand, RUN_FLAGS } from './commands/run.js';
import { resultsCommand, RESULTS_FLAGS } from './commands/results.js';
import { workerCommand, WORKER_FLAGS } from './commands/worker.js';

const USAGE = `attrib: explain what a model did, by attribution

usage:
  attrib explain --model M --input X --method ID [--target N|N,N,…|auto] [--baseline zeros|N|FILE]
                 [method options] [--out FILE.json|DIR] [--backend wasm|cpu]
                 [--engine tfjs|onnx|auto] [--batch-size N] [--max-evaluations N] [--quiet]
  attrib evaluate --model M --input X [--target T] --methods a,b,c
                 --metrics deletion,insertion,infidelity,… [--relevant FILE] [--out FILE.json]
                                   score methods (random is the control)
  attrib methods [ID] [--json]     list methods and costs; one method's options and defaults
  attrib components --model DIR --tokens 5,9,2,… [--corrupt-tokens 5,9,3,…] --answer ID --wrong ID
                 --method activation-patching|atp|atp-star|direct-logit-attribution|logit-lens
                 [--nodes z,q,k,v,mlp] [--per-position] [--out FILE.json|DIR]
                 (or --text/--corrupt-text/--answer-text/--wrong-text with the folder's tokenizer)
                 [--diagnose [--verify K] [--samples N] [--inclusion-probability P] [--alpha A]
                   [--correction bonferroni|none] [--threshold T] [--seed S]] (atp-star)
                                   scores of a transformer's heads and MLPs (Hugging Face folder)
  attrib llm --model DIR (--text T | --tokens IDS) [--response R | --response-tokens IDS]
                 [--method feature-ablation|shapley-value-sampling|kernel-shap|lime|
                           layer-integrated-gradients] [--segments 0,0,1,…] [--per-token]
                 [--out FILE.json] a response's log-prob attributed to prompt tokens
  attrib data --model M.onnx --train-x X --train-y Y --test-x X --test-y Y
                 --method influence|trak|tracin|grad-dot|grad-cos|magic [--loss cross-entropy|mse]
                 [--l2 λ] [--hessian exact|cg|lissa|kfac|ekfac] [--projection-dim K]
                 [--checkpoints a,b] [--seed N] --out scores.npy|DIR
                                   training-data attribution (docs/data-attribution.md)
  attrib context --endpoint URL --api completions|vllm|llama.cpp [--llm NAME] --context FILE
                 --query TEXT [--response TEXT] [--template FILE]
                 [--sources sentences|lines|paragraphs]
                 --method context-cite|leave-one-out|kernel-shap|attribot [--ablations 64]
                 [--seed N] [--concurrency 8] --out FILE.json|DIR
                                   which context sources an LLM answer relied on (server log-probs)
  attrib run --model M --inputs DIR|GLOB|FILE --method ID [method options] [--metrics a,b]
                 --out STORE [--resume] [--queue redis://HOST:PORT] [--status]
                                   one method over a dataset into a results store (docs/jobs.md)
  attrib results STORE [--query SQL] [--format table|json|csv|parquet] [--export DIR]
                                   a store's report, queries and exports
  attrib worker --queue redis://HOST:PORT   computes the items of 'attrib run --queue' jobs
  attrib studio [--models DIR] [--port N] [--host H] [--open]
                                   local web app: run methods on a model, compare heatmaps
  attrib demo [--out DIR] [--quick] explain the bundled models with every method; writes report.html
  attrib benchmark [--size small|full] [--tasks a,b] [--out DIR]
                                   ground-truth benchmark: leaderboard.md/.json and charts
  attrib COMMAND --help            a command's options, defaults and allowed values
  attrib --version

explain options:
${EXPLAIN_FLAGS.map((f) => `  --${f.name.padEnd(16)} ${f.help}${f.default !== undefined ? ` (default ${String(f.default)})` : ''}`).join('\n')}
  method options: see 'attrib methods' (e.g. --steps 50 --rule gauss-legendre, --window 4,4,3 --strides 4,4,3)`;

/** What each command does, its usage line and its flags (for `attrib COMMAND --help`). */
const COMMANDS: Record<string, { readonly summary: string; readonly usage: string; readonly flags: readonly FlagSpec[] }> = {
  explain: { summary: 'attribute one model\'s outputs on an input batch with one method', usage: 'attrib explain --model M (--input X | --text T --vocab V) [--method ID] [options]', flags: EXPLAIN_FLAGS },
  evaluate: { summary: 'score attribution methods with faithfulness metrics (random is the control)', usage: 'attrib evaluate --model M --input X [--methods a,b] [--metrics m,n] [options]', flags: EVALUATE_FLAGS },
  methods: { summary: 'the methods: a table, or one method in detail', usage: 'attrib methods [ID] [--json]', flags: METHODS_FLAGS },
  demo: { summary: 'explain the bundled models with every method; writes report.html', usage: 'attrib demo [--out DIR] [--quick]', flags: DEMO_FLAGS },
  data: { summary: 'training-data attribution: which training examples raise or lower each test loss', usage: 'attrib data --model M.onnx --train-x X --train-y Y --test-x X --test-y Y [--method ID] [options] --out scores.npy|DIR', flags: DATA_FLAGS },
  run: { summary: 'one method over a whole dataset into a results store; killed and run again, it finishes the rest', usage: 'attrib run --model M --inputs DIR|GLOB|FILE --method ID [method options] [--metrics a,b] --out STORE [--resume]', flags: RUN_FLAGS },
  results: { summary: "a results store's report (metric distributions, worst inputs), SQL queries and exports", usage: 'attrib results STORE [--query SQL] [--format table|json|csv|parquet] [--export DIR]', flags: RESULTS_FLAGS },
  worker: { summary: "computes queued items of 'attrib run --queue redis://…' jobs until interrupted", usage: 'attrib worker --queue redis://HOST:PORT [--concurrency N]', flags: WORKER_FLAGS },
  benchmark: { summary: 'the ground-truth benchmark: leaderboard.md/.json and charts', usage: 'attrib benchmark [--size small|full] [--tasks a,b] [--out DIR]', flags: BENCHMARK_FLAGS },
  context: { summary: 'which sources of a context an LLM answer relied on, scored by a server', usage: 'attrib context --endpoint URL --api API --context FILE --query TEXT [--method ID] [--out F]', flags: CONTEXT_FLAGS },
  components: { summary: "scores of a transformer's heads and MLPs (activation patching, AtP, AtP*, DLA, logit lens)", usage: 'attrib components --model DIR --tokens IDS [--corrupt-tokens IDS] --answer ID --wrong ID --method M [--nodes z,q,k,v,mlp] [--per-position] [--out FILE.json|DIR]', flags: COMPONENTS_FLAGS },
  llm: { summary: "a response's log-probability attributed to prompt tokens or segments (greedy generation without one)", usage: 'attrib llm --model DIR (--text T | --tokens IDS) [--response R | --response-tokens IDS] [--method M] [--segments IDS] [--per-token] [--out FILE.json]', flags: LLM_FLAGS },
  studio: { summary: 'a local web app: pick a model and an input, run methods, compare heatmaps', usage: 'attrib studio [--models DIR] [--port N] [--host H] [--open]', flags: STUDIO_FLAGS },
};

/** The package version, from package.json (two folders up from src/cli and dist/cli alike). */
export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}

/** `attrib COMMAND --help`; for explain with `--method ID`, that method's options too. */
function commandHelp(command: string, raw: ReadonlyMap<string, string | true>): string {
  const c = COMMANDS[command]!;
  const lines = [`attrib ${command}: ${c.summary}`, '', `usage: ${c.usage}`, '', 'options:', flagHelp(c.flags)];
  if (command === 'explain') {
    const id = raw.get('method');
    if (typeof id === 'string') {
      const d = findMethod(id);
      lines.push('', `options of ${d.id} (${d.title}):`, d.options.length > 0 ? flagHelp(methodFlags(d)) : '  (none)');
    } else lines.push('', ...wrap('method options: attrib explain --method ID --help, or attrib methods ID (e.g. --steps 50 --rule gauss-legendre)', 100));
  }
  return lines.join('\n');
}

export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { positionals, raw } = tokenize(rest);
  const ac = new AbortController();
  const onSigint = () => ac.abort(new Error('interrupted'));
  process.once('SIGINT', onSigint);
  try {
    if (command === '--version' || command === '-V' || command === 'version') {
      process.stdout.write(`${version()}\n`);
      return 0;
    }
    if (command !== undefined && command in COMMANDS && (raw.has('help') || positionals.includes('-h'))) {
      process.stdout.write(`${commandHelp(command, raw)}\n`);
      return 0;
    }
    if (command === 'methods') {
      if (positionals.length > 1) throw new InvalidArgumentError(`'attrib methods' takes at most one method id, got ${positionals.join(' ')}`, { arg: 'id' });
      process.stdout.write(`${methodsCommand(parseMethodsFlags(raw), positionals[0])}\n`);
      return 0;
    }
    if (command === 'results') {
      if (positionals.length > 1) throw new InvalidArgumentError(`'attrib results' takes one store, got ${positionals.join(' ')}`, { arg: 'store' });
      const r = await resultsCommand(raw, positionals[0]);
      process.stdout.write(typeof r.stdout === 'string' ? `${r.stdout}\n` : r.stdout);
      return 0;
    }
    if (positionals.length > 0) throw new InvalidArgumentError(`Unexpected argument '${positionals[0]}'; options take the form --name value`, { arg: positionals[0] });
    const backend = typeof raw.get('backend') === 'string' ? (raw.get('backend') as string) : undefined; // --backend, when given
    const quiet = raw.get('quiet') === true;
    const wrote = (files: readonly string[]) => {
      if (files.length > 0 && !quiet) process.stderr.write(`attrib: wrote ${files.join(', ')}\n`);
    };
    switch (command) {
      case 'explain': {
        await setupBackend(backend, quiet);
        const r = await explainCommand(raw, ac.signal);
        if (r.stdout) process.stdout.write(`${r.stdout}\n`);
        wrote(r.files);
        return 0;
      }
      case 'evaluate': {
        await setupBackend(backend, quiet);
        const r = await evaluateCommand(raw, ac.signal);
        process.stdout.write(`${r.stdout}\n`);
        wrote(r.files);
        return 0;
      }
      case 'run': {
        // the backend is set up by the command: with --resume it comes from the store
        const { summary: s, store, stdout } = await runCommand(raw, ac.signal);
        if (stdout !== undefined) process.stdout.write(`${stdout}\n`);
        if (s && !quiet) process.stderr.write(`attrib: ${store}: ${s.total} rows, ${s.resumed} already stored, ${s.computed} computed${s.failed ? `, ${s.failed} failed (attrib results ${store})` : ''}, ${(s.elapsedMs / 1000).toFixed(1)} s\n`);
        return 0;
      }
      case 'worker': {
        await workerCommand(raw, ac.signal);
        return 0;
      }
      case 'benchmark': {
        await setupBackend(backend, quiet);
        const r = await benchmarkCommand(raw, ac.signal);
        process.stdout.write(r.stdout);
        if (!quiet) process.stderr.write(`attrib: wrote ${r.files.join(', ')}\n`);
        return 0;
      }
      case 'context': {
        await setupBackend('cpu', true); // one [1, sources] tensor: the cpu backend is enough
        const r = await contextCommand(raw, ac.signal);
        if (r.stdout) process.stdout.write(`${r.stdout}\n`);
        wrote(r.files);
        return 0;
      }
      case 'components': {
        await setupBackend(backend, quiet);
        const r = await componentsCommand(raw, ac.signal);
        process.stdout.write(`${r.stdout}\n`);
        wrote(r.files);
        return 0;
      }
      case 'llm': {
        await setupBackend(backend ?? 'cpu', true);
        const r = await llmCommand(raw, ac.signal);
        process.stdout.write(`${r.stdout}\n`);
        wrote(r.files);
        return 0;
      }
      case 'studio': {
        await setupBackend(backend, false);
        await studioCommand(raw, ac.signal);
        return 0;
      }
      case 'data': {
        await setupBackend(backend, quiet);
        raw.delete('backend');
        const r = await dataCommand(raw, ac.signal);
        process.stdout.write(`${r.stdout}\n`);
        if (!quiet) process.stderr.write(`attrib: wrote ${r.files.join(', ')}\n`);
        return 0;
      }
      case 'demo': {
        await setupBackend(backend, false);
        return await demoCommand(raw, ac.signal);
      }
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(`${USAGE}\n`);
        return command === undefined ? 2 : 0;
      default:
        throw new InvalidArgumentError(`Unknown command '${command}'; commands: ${Object.keys(COMMANDS).join(', ')} (attrib help)`, { command });
    }
  } catch (e) {
    const msg = isAttributionError(e) ? `attrib: ${e.code}: ${e.message}` : `attrib: internal error: ${(e as Error)?.stack ?? String(e)}`;
    process.stderr.write(`${msg.split('\n')[0]}\n`);
    if (!isAttributionError(e) && process.env['ATTRIB_DEBUG']) process.stderr.write(`${(e as Error)?.stack}\n`);
    return exitCodeFor(e);
  } finally {
    process.off('SIGINT', onSigint);
  }
}

function parseMethodsFlags(raw: Map<string, string | true>): boolean {
  return parseFlags(raw, METHODS_FLAGS, 'methods').get('json') === true;
}

const invokedDirectly = process.argv[1] && /cli[\\/]main\.(ts|js)$/.test(process.argv[1]);
if (invokedDirectly) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`attrib: internal error: ${String(e)}\n`);
      process.exit(1);
    },
  );
}
