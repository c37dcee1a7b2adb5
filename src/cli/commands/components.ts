import path from 'node:path';
import { InvalidArgumentError } from '../../core/errors.js';
import { COMPONENT_METHOD_IDS, COMPONENT_METHODS, NEEDS_CORRUPT, type ComponentMethodId } from '../../components/component-methods.js';
import { DEFAULT_NODE_KINDS, NODE_KINDS, type NodeKind } from '../../components/nodes.js';
import { componentReportHtml } from '../../components/report.js';
import { loadTransformer } from '../../io/load-transformer.js';
import { parseFlags, type FlagSpec } from '../args.js';
import { checkOut, writeAtomically, writeFileAtomically } from '../outputs.js';
import { ProgressBar } from '../progress.js';
import { idOrText, idsOrText, lazyTokenizer } from '../text-input.js';
import { checkDiagnoseFlags, DIAGNOSE_FLAGS, runDiagnose } from './components-diagnose.js';

/** Flags of `attrib components`. */
export const COMPONENTS_FLAGS: readonly FlagSpec[] = [
  { name: 'model', type: 'string', help: 'Hugging Face model folder: config.json + model.safetensors (or shards with model.safetensors.index.json)' },
  { name: 'tokens', type: 'int-list', help: 'clean token ids, e.g. 0,5,9,2', min: 0 },
  { name: 'corrupt-tokens', type: 'int-list', help: 'corrupt token ids, same length (activation-patching, atp, atp-star)', min: 0 },
  { name: 'answer', type: 'int', help: 'token id of the answer: M = logits[last, answer] − logits[last, wrong]', min: 0 },
  { name: 'wrong', type: 'int', help: 'token id of the wrong answer', min: 0 },
  { name: 'text', type: 'string', help: 'clean text instead of --tokens (encoded with the folder\'s tokenizer.json)' },
  { name: 'corrupt-text', type: 'string', help: 'corrupt text instead of --corrupt-tokens' },
  { name: 'answer-text', type: 'string', help: 'the answer as text (must be one token) instead of --answer' },
  { name: 'wrong-text', type: 'string', help: 'the wrong answer as text (one token) instead of --wrong' },
  { name: 'method', type: 'string', help: 'component method', values: COMPONENT_METHOD_IDS },
  { name: 'nodes', type: 'string', help: `node kinds, comma-separated: ${NODE_KINDS.join(',')} (resid: blocks.{l}.hook_resid_pre, one node per position)`, default: DEFAULT_NODE_KINDS.join(',') },
  { name: 'per-position', type: 'bool', help: 'one node per position instead of one over all positions' },
  { name: 'batch-size', type: 'int', help: 'patched runs per forward batch (activation-patching, --diagnose)', default: 64, min: 1 },
  { name: 'out', type: 'string', help: 'FILE.json for the result, or a folder for components.json and report.html' },
  { name: 'backend', type: 'string', help: 'TF.js backend for the result tensor: wasm or cpu', default: 'wasm' },
  { name: 'quiet', type: 'bool', help: 'no progress lines' },
  ...DIAGNOSE_FLAGS,
];

/**
 * `attrib components --model DIR --tokens … [--corrupt-tokens …] --answer ID --wrong ID --method M
 * [--nodes z,q,k,v,mlp] [--per-position] --out FILE.json|DIR`: scores of a transformer's components.
 */
export async function componentsCommand(raw: Map<string, string | true>, signal?: AbortSignal): Promise<{ stdout: string; files: string[] }> {
  const flags = parseFlags(raw, COMPONENTS_FLAGS, 'components');
  const need = (name: string) => {
    const v = flags.get(name);
    if (v === undefined) throw new InvalidArgumentError(`'attrib components' needs --${name}`, { arg: name });
    return v;
  };
  const method = need('method') as ComponentMethodId;
  const diagnose = checkDiagnoseFlags(flags, method);
  const modelDir = need('model') as string;
  const tk = lazyTokenizer(modelDir);
  const needed = <T>(v: T | undefined, name: string, alt: string): T => {
    if (v === undefined) throw new InvalidArgumentError(`'attrib components' needs --${name} (or --${alt})`, { arg: name });
    return v;
  };
  const tokens = needed(await idsOrText(flags, { ids: 'tokens', text: 'text' }, tk, 'components'), 'tokens', 'text');
  const answer = needed(await idOrText(flags, { ids: 'answer', text: 'answer-text' }, tk, 'components'), 'answer', 'answer-text');
  const wrong = needed(await idOrText(flags, { ids: 'wrong', text: 'wrong-text' }, tk, 'components'), 'wrong', 'wrong-text');
  const corrupt = await idsOrText(flags, { ids: 'corrupt-tokens', text: 'corrupt-text' }, tk, 'components');
  if (NEEDS_CORRUPT.has(method) && !corrupt) throw new InvalidArgumentError(`'attrib components --method ${method}' needs --corrupt-tokens (or --corrupt-text)`, { arg: 'corrupt-tokens' });
  const nodes = ((flags.get('nodes') as string | undefined) ?? DEFAULT_NODE_KINDS.join(',')).split(',').map((s) => s.trim());
  for (const n of nodes) if (!(NODE_KINDS as readonly string[]).includes(n)) throw new InvalidArgumentError(`Option '--nodes' may hold ${NODE_KINDS.join(', ')}; got '${n}'`, { arg: 'nodes', value: n });
  const out = flags.get('out') as string | undefined;
  const target = out === undefined ? undefined : await checkOut(out);
  const model = await loadTransformer(modelDir);
  const quiet = flags.get('quiet') === true;
  const bar = new ProgressBar(`components ${method}`, !quiet);
  try {
    const base = {
      ...(signal ? { signal } : {}),
      tokens,
      ...(corrupt ? { corruptTokens: corrupt } : {}),
      answer,
      wrong,
      nodes: nodes as NodeKind[],
      perPosition: flags.get('per-position') === true,
      batchSize: (flags.get('batch-size') as number | undefined) ?? 64,
    };
    const result = await COMPONENT_METHODS[method](model, { ...base, onProgress: bar.update }).finally(() => bar.done());
    try {
      const diag = diagnose ? await runDiagnose(model, result, base, flags, quiet) : undefined;
      const json = JSON.stringify(diag ? { ...result.toJSON(), diagnostic: diag.json } : result.toJSON(), null, 2);
      const top = [...result.nodes].sort((a, b) => Math.abs(b.score) - Math.abs(a.score)).slice(0, 10);
      const summary = [`${method}: M clean = ${result.metric.clean.toFixed(4)}${result.metric.corrupt === undefined ? '' : `, corrupt = ${result.metric.corrupt.toFixed(4)}`}; top nodes:`, ...top.map((n) => `  ${n.hook}${n.head === null ? '' : ` head ${n.head}`}${n.position === null ? '' : ` pos ${n.position}`}: ${n.score.toFixed(4)}`), ...(diag?.summary ?? [])];
      if (!out || !target) return { stdout: json, files: [] };
      if (target.kind === 'file') {
        await writeFileAtomically(path.resolve(out), json);
        return { stdout: summary.join('\n'), files: [out] };
      }
      const files = new Map<string, string>([['components.json', json], ['report.html', componentReportHtml(result, `${path.basename(path.resolve(modelDir))}: ${method}`, 20, diag?.html ?? '')]]);
      await writeAtomically(files, out);
      return { stdout: summary.join('\n'), files: [...files.keys()].map((f) => path.join(out, f)) };
    } finally {
      result.dispose();
    }
  } finally {
    model.dispose();
  }
}
