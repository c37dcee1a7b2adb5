import path from 'node:path';
import { InvalidArgumentError } from '../../core/errors.js';
import { explainResponse, LLM_METHODS, textAttributionJson, type LlmMethod } from '../../attr/llm/explain-response.js';
import { loadTransformer } from '../../io/load-transformer.js';
import { parseFlags, type FlagSpec } from '../args.js';
import { checkOut, writeFileAtomically } from '../outputs.js';
import { idOrText, idsOrText, lazyTokenizer } from '../text-input.js';

/** Flags of `attrib llm`. */
export const LLM_FLAGS: readonly FlagSpec[] = [
  { name: 'model', type: 'string', help: 'Hugging Face model folder (config.json, model.safetensors; tokenizer.json for text)' },
  { name: 'tokens', type: 'int-list', help: 'prompt token ids', min: 0 },
  { name: 'text', type: 'string', help: 'prompt text (encoded with the folder\'s tokenizer.json, special tokens added)' },
  { name: 'response-tokens', type: 'int-list', help: 'response token ids (teacher forced); default: greedy generation', min: 0 },
  { name: 'response', type: 'string', help: 'response text (encoded without special tokens); default: greedy generation' },
  { name: 'method', type: 'string', help: 'attribution method', values: LLM_METHODS, default: 'feature-ablation' },
  { name: 'segments', type: 'int-list', help: 'segment id per prompt token (−1: never ablated), e.g. 0,0,1,1,2; default: one per token', min: -1 },
  { name: 'baseline-token', type: 'int', help: 'token id replacing ablated prompt tokens (the IG baseline embedding)', default: 0, min: 0 },
  { name: 'per-token', type: 'bool', help: 'also one row per response token' },
  { name: 'samples', type: 'int', help: 'Shapley permutations / KernelSHAP and LIME coalitions', min: 1 },
  { name: 'steps', type: 'int', help: 'layer-integrated-gradients path points', default: 64, min: 1 },
  { name: 'max-new-tokens', type: 'int', help: 'greedy generation length when no response is given', default: 16, min: 1 },
  { name: 'eos-token', type: 'int', help: 'greedy generation stops after this token', min: 0 },
  { name: 'eos-text', type: 'string', help: 'the end token as text (one token)' },
  { name: 'seed', type: 'int', help: 'seed of the sampling methods', default: 0 },
  { name: 'batch-size', type: 'int', help: 'rows per forward batch', default: 32, min: 1 },
  { name: 'out', type: 'string', help: 'FILE.json for the result (default: stdout)' },
  { name: 'backend', type: 'string', help: 'TF.js backend for the result tensor: wasm or cpu', default: 'cpu' },
  { name: 'quiet', type: 'bool', help: 'no progress lines' },
];

/**
 * `attrib llm --model DIR (--text T | --tokens IDS) [--response R | --response-tokens IDS] [--method M]
 * [--segments …] [--per-token] --out FILE.json`: log p(response | prompt) attributed to prompt tokens.
 */
export async function llmCommand(raw: Map<string, string | true>, signal?: AbortSignal): Promise<{ stdout: string; files: string[] }> {
  const flags = parseFlags(raw, LLM_FLAGS, 'llm');
  const modelDir = flags.get('model') as string | undefined;
  if (modelDir === undefined) throw new InvalidArgumentError(`'attrib llm' needs --model`, { arg: 'model' });
  const tk = lazyTokenizer(modelDir);
  const prompt = await idsOrText(flags, { ids: 'tokens', text: 'text' }, tk, 'llm');
  if (prompt === undefined) throw new InvalidArgumentError(`'attrib llm' needs --tokens or --text (the prompt)`, { arg: 'tokens' });
  const response = await idsOrText(flags, { ids: 'response-tokens', text: 'response' }, tk, 'llm', { addSpecialTokens: false });
  const eos = await idOrText(flags, { ids: 'eos-token', text: 'eos-text' }, tk, 'llm');
  const out = flags.get('out') as string | undefined;
  if (out !== undefined && (await checkOut(out, { json: true })).kind !== 'file') throw new InvalidArgumentError(`Option '--out' of 'attrib llm' must be a .json file`, { arg: 'out' });
  const method = (flags.get('method') ?? 'feature-ablation') as LlmMethod;
  const num = (name: string): number | undefined => flags.get(name) as number | undefined;
  const numOr = (name: string): number => num(name) ?? (LLM_FLAGS.find((f) => f.name === name)!.default as number);
  const model = await loadTransformer(modelDir);
  try {
    const samples = num('samples');
    const segments = flags.get('segments') as number[] | undefined;
    const r = await explainResponse(model, method, {
      prompt,
      ...(response === undefined ? {} : { response }),
      ...(segments === undefined ? {} : { segments }),
      ...(samples === undefined ? {} : { samples }),
      ...(eos === undefined ? {} : { eosToken: eos }),
      ...(signal === undefined ? {} : { signal }),
      baselineToken: numOr('baseline-token'),
      perToken: flags.get('per-token') === true,
      steps: numOr('steps'),
      maxNewTokens: numOr('max-new-tokens'),
      seed: numOr('seed'),
      batchSize: numOr('batch-size'),
    });
    try {
      const tokenizer = raw.has('text') || raw.has('response') ? await tk() : undefined;
      const json = textAttributionJson(r, tokenizer ? (ids) => tokenizer.tokenStrings(ids) : undefined);
      const text = JSON.stringify(json, null, 2);
      if (out === undefined) return { stdout: text, files: [] };
      await writeFileAtomically(path.resolve(out), text);
      const scores = (json['scores'] as number[][])[0]!;
      const top = scores.map((s, i) => [i, s] as const).sort((a, b) => Math.abs(b[1]) - Math.abs(a[1])).slice(0, 5);
      return { stdout: [`${method}: log p(response) = ${(json['response'] as { logProb: number }).logProb.toFixed(4)}${r.generated ? ' (generated)' : ''}; top segments:`, ...top.map(([i, s]) => `  ${i}: ${s.toFixed(4)}`)].join('\n'), files: [out] };
    } finally {
      r.attribution.dispose();
    }
  } finally {
    model.dispose();
  }
}
