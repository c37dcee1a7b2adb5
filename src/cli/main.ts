#!/usr/bin/env node
// attrib command line: a thin layer over the library.
import { exitCodeFor, isAttributionError, InvalidArgumentError } from '../core/errors.js';
import { tokenize } from './args.js';
import { setupBackend } from './backend.js';
import { explainCommand, EXPLAIN_FLAGS } from './commands/explain.js';
import { methodsCommand } from './commands/methods.js';
import { demoCommand } from './commands/demo.js';
import { evaluateCommand } from './commands/evaluate.js';
import { benchmarkCommand } from './commands/benchmark.js';

const USAGE = `attrib: explain what a model did, by attribution

usage:
  attrib explain --model M --input X --method ID [--target N|N,N,…|auto] [--baseline zeros|N|FILE]
                 [method options] [--out FILE.json|DIR] [--backend wasm|cpu] [--engine tfjs|onnx|auto]
                 [--batch-size N] [--max-evaluations N] [--quiet]
  attrib evaluate --model M --input X [--target T] --methods a,b,c --metrics deletion,insertion,infidelity,…
                 [--relevant FILE] [--out FILE.json]   score methods (random is the control)
  attrib methods [--json]          list methods, their options and costs
  attrib demo [--out DIR] [--quick] explain the bundled models with every method; writes report.html
  attrib benchmark [--size small|full] [--tasks a,b] [--out DIR]
                                   ground-truth benchmark: leaderboard.md/.json and charts

explain options:
${EXPLAIN_FLAGS.map((f) => `  --${f.name.padEnd(16)} ${f.help}${f.default !== undefined ? ` (default ${String(f.default)})` : ''}`).join('\n')}
  method options: see 'attrib methods' (e.g. --steps 50 --rule gauss-legendre, --window 4,4,3 --strides 4,4,3)`;

export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { positionals, raw } = tokenize(rest);
  const ac = new AbortController();
  const onSigint = () => ac.abort(new Error('interrupted'));
  process.once('SIGINT', onSigint);
  try {
    if (positionals.length > 0) throw new InvalidArgumentError(`Unexpected argument '${positionals[0]}'; options take the form --name value`, { arg: positionals[0] });
    switch (command) {
      case 'explain': {
        await setupBackend(typeof raw.get('backend') === 'string' ? (raw.get('backend') as string) : undefined, raw.get('quiet') === true);
        const r = await explainCommand(raw, ac.signal);
        if (r.stdout) process.stdout.write(`${r.stdout}\n`);
        if (r.files.length > 0 && raw.get('quiet') !== true) process.stderr.write(`attrib: wrote ${r.files.join(', ')}\n`);
        return 0;
      }
      case 'evaluate': {
        await setupBackend(typeof raw.get('backend') === 'string' ? (raw.get('backend') as string) : undefined, raw.get('quiet') === true);
        const r = await evaluateCommand(raw, ac.signal);
        process.stdout.write(`${r.stdout}\n`);
        if (r.files.length > 0 && raw.get('quiet') !== true) process.stderr.write(`attrib: wrote ${r.files.join(', ')}\n`);
        return 0;
      }
      case 'benchmark': {
        await setupBackend(typeof raw.get('backend') === 'string' ? (raw.get('backend') as string) : undefined, raw.get('quiet') === true);
        const r = await benchmarkCommand(raw, ac.signal);
        process.stdout.write(r.stdout);
        if (raw.get('quiet') !== true) process.stderr.write(`attrib: wrote ${r.files.join(', ')}\n`);
        return 0;
      }
      case 'methods':
        process.stdout.write(`${methodsCommand(raw.get('json') === true)}\n`);
        return 0;
      case 'demo': {
        await setupBackend(typeof raw.get('backend') === 'string' ? (raw.get('backend') as string) : undefined, false);
        return await demoCommand(raw, ac.signal);
      }
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(`${USAGE}\n`);
        return command === undefined ? 2 : 0;
      default:
        throw new InvalidArgumentError(`Unknown command '${command}'; commands: explain, evaluate, methods, demo, benchmark (attrib help)`, { command });
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
