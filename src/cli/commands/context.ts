import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { FileFormatError, InvalidArgumentError } from '../../core/errors.js';
import type { SourceSpan } from '../../core/result.js';
import { attributeContext, CONTEXT_METHODS, type ContextMethodId, type ContextRun } from '../../context/attribute-context.js';
import { ScoreCache } from '../../context/cache.js';
import { connect } from '../../context/connect.js';
import { API_NAMES, type ApiName } from '../../context/scorers/tokens.js';
import { MAX_CONTEXT_CHARS, MAX_SOURCES, SOURCE_UNITS, type SourceUnit } from '../../context/sources.js';
import { shownUrl } from '../../context/http.js';
import { resolveCacheDir } from '../../models/onnx/compile-cache.js';
import { contextHtml } from '../../viz/context-spans.js';
import { renderReport } from '../../viz/report.js';
import { escapeHtml } from '../../viz/token-spans.js';
import { parseFlags, type FlagSpec } from '../args.js';
import { checkOut, writeAtomically, writeFileAtomically } from '../outputs.js';
import { ProgressBar } from '../progress.js';
import { openLocalScorer } from './context-local.js';

/** Flags of `attrib context`. */
export const CONTEXT_FLAGS: readonly FlagSpec[] = [
  { name: 'endpoint', type: 'string', help: 'server base URL: http://HOST:8000/v1 (OpenAI-style, vLLM) or http://HOST:8080 (llama.cpp)' },
  { name: 'api', type: 'string', values: API_NAMES, help: 'protocol: completions (echo + logprobs), vllm (prompt_logprobs), llama.cpp (/completion, one request per response token)' },
  { name: 'model', type: 'string', help: 'a local language model folder (config.json, model.safetensors, tokenizer.json: WordLevel or BPE) instead of --endpoint; --concurrency is then the prompts per forward run (default 32)' },
  { name: 'llm', type: 'string', help: "sent as the request's 'model'" },
  { name: 'context', type: 'string', help: 'the context: a UTF-8 text file' },
  { name: 'query', type: 'string', help: 'the question asked about the context' },
  { name: 'response', type: 'string', help: 'the answer to attribute; without it the server generates one (greedy) first' },
  { name: 'response-span', type: 'string', help: 'attribute only part of the response: START:END (characters) or a substring of it' },
  { name: 'template', type: 'string', help: 'prompt template file with {context} and {query}; the response follows it (default "Context: {context}\\n\\nQuery: {query}\\n\\nAnswer: ")' },
  { name: 'sources', type: 'string', values: SOURCE_UNITS, help: 'how the context splits into sources', default: 'sentences' },
  { name: 'spans', type: 'string', help: 'caller-given sources instead: a JSON file [{"source", "start", "end"}] of character offsets (documents, chat turns)' },
  { name: 'method', type: 'string', values: CONTEXT_METHODS, help: 'attribution method', default: 'context-cite' },
  { name: 'ablations', type: 'int', help: 'ablated prompts (context-cite, kernel-shap)', default: 64, min: 1, max: 100_000 },
  { name: 'keep-groups', type: 'int', help: 'attribot: paragraphs kept for the sentence-level stage', default: 3, min: 1, max: 100_000 },
  { name: 'replace', type: 'string', help: 'text put in place of an ablated source (default: removed)' },
  { name: 'seed', type: 'int', help: 'random seed', default: 0 },
  { name: 'concurrency', type: 'int', help: 'requests in flight at once', default: 8, min: 1, max: 256 },
  { name: 'timeout', type: 'int', help: 'milliseconds allowed per request', default: 120_000, min: 1 },
  { name: 'max-requests', type: 'int', help: 'request budget of the run (retries count); past it the run stops with budget_exceeded', min: 1 },
  { name: 'api-key-env', type: 'string', help: 'environment variable holding the API key (sent as a bearer token, never logged)', default: 'ATTRIB_API_KEY' },
  { name: 'cache', type: 'string', help: 'folder caching scored prompts so reruns cost nothing, or off (default: ATTRIB_CACHE_DIR or ~/.cache/attrib, subfolder context)' },
  { name: 'lds', type: 'int', help: 'held-out random ablations for the linear datamodeling score (extra prompts)', default: 0, min: 0, max: 100_000 },
  { name: 'top-k', type: 'int-list', help: 'report the log-probability drop when the top k sources are removed, for each k (one prompt each)', min: 1 },
  { name: 'max-new-tokens', type: 'int', help: 'longest generated response', default: 256, min: 1, max: 100_000 },
  { name: 'out', type: 'string', help: 'FILE.json for the result, or a folder for result.json and report.html (default: JSON on stdout)' },
  { name: 'quiet', type: 'bool', help: 'no progress bar' },
];

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/**
 * `attrib context`: which sources of a context an LLM's answer relied on, scored by a server. Reads
 * and checks every input and `--out` before the first request; writes nothing on failure.
 */
export async function contextCommand(raw: Map<string, string | true>, signal?: AbortSignal): Promise<{ stdout?: string; files: string[] }> {
  const flags = parseFlags(raw, CONTEXT_FLAGS, 'context');
  const get = (name: string) => flags.get(name) ?? CONTEXT_FLAGS.find((f) => f.name === name)?.default;
  const modelDir = str(flags.get('model'));
  if (modelDir !== undefined && (flags.has('endpoint') || flags.has('api'))) {
    throw new InvalidArgumentError("Options '--model' and '--endpoint'/'--api' of 'attrib context' exclude each other; give a local model folder or a server", { arg: 'model' });
  }
  const need = (name: string): string => {
    const v = str(flags.get(name));
    if (v === undefined) throw new InvalidArgumentError(`'attrib context' needs --${name} (attrib context --help)`, { arg: name });
    return v;
  };
  const endpoint = modelDir ?? need('endpoint');
  const api = modelDir !== undefined ? 'local' : (need('api') as ApiName);
  const context = await readText(need('context'), 'context', MAX_CONTEXT_CHARS * 4);
  const query = need('query');
  const templateFile = str(flags.get('template'));
  const template = templateFile === undefined ? undefined : await readText(templateFile, 'template', 1024 * 1024);
  const spansFile = str(flags.get('spans'));
  if (spansFile !== undefined && flags.has('sources')) throw new InvalidArgumentError("Options '--sources' and '--spans' of 'attrib context' exclude each other; give one", { arg: 'spans' });
  const sources = spansFile === undefined ? (get('sources') as SourceUnit) : await readSpans(spansFile);
  const out = str(flags.get('out'));
  const target = out === undefined ? undefined : await checkOut(out);
  const cacheFlag = str(flags.get('cache'));
  const cacheDir = cacheFlag === 'off' || modelDir !== undefined ? undefined : cacheFlag !== undefined ? path.resolve(cacheFlag) : resolveCacheDir(undefined);
  const keyEnv = get('api-key-env') as string;
  const apiKey = process.env[keyEnv];
  const maxRequests = flags.get('max-requests') as number | undefined;
  const local = modelDir === undefined ? undefined : await openLocalScorer(modelDir, (flags.get('concurrency') as number | undefined) ?? 32, maxRequests);
  const scorer = local?.scorer ?? connect({
    api: api as ApiName,
    endpoint,
    ...(str(flags.get('llm')) ? { model: str(flags.get('llm'))! } : {}),
    concurrency: get('concurrency') as number,
    timeoutMs: get('timeout') as number,
    ...(maxRequests === undefined ? {} : { maxRequests }),
    ...(apiKey ? { apiKey } : {}),
    apiKeyName: keyEnv,
    ...(signal ? { signal } : {}),
  });
  const bar = new ProgressBar(`context ${String(get('method'))}`, raw.get('quiet') !== true);
  const response = str(flags.get('response'));
  const responseSpan = str(flags.get('response-span'));
  const replacement = str(flags.get('replace'));
  const topK = flags.get('top-k') as number[] | undefined;
  let run: ContextRun;
  try {
    run = await attributeContext(scorer, {
      context,
      query,
      ...(response === undefined ? {} : { response }),
      ...(template === undefined ? {} : { template }),
      sources,
      method: get('method') as ContextMethodId,
      ablations: get('ablations') as number,
      keepGroups: get('keep-groups') as number,
      seed: get('seed') as number,
      ...(responseSpan === undefined ? {} : { responseSpan }),
      ...(replacement === undefined ? {} : { replacement }),
      ...(cacheDir === undefined ? {} : { cache: new ScoreCache(path.join(cacheDir, 'context')) }),
      maxNewTokens: get('max-new-tokens') as number,
      ldsAblations: get('lds') as number,
      ...(topK ? { topK } : {}),
      ...(signal ? { signal } : {}),
      onProgress: bar.update,
    });
  } finally {
    local?.dispose();
  }
  try {
    const json = await contextJson(run, { api, endpoint, llm: str(flags.get('llm')) });
    const text = JSON.stringify(json, null, 2);
    if (!target) return { stdout: text, files: [] };
    if (target.kind === 'file') {
      await writeFileAtomically(target.path, text);
      return { files: [out!] };
    }
    const report = contextReport(run, context, query, json.sources);
    await writeAtomically(new Map([['result.json', text], ['report.html', report]]), target.path);
    return { files: [path.join(out!, 'result.json'), path.join(out!, 'report.html')] };
  } finally {
    run.dispose();
  }
}

interface SourceJson {
  readonly source: string;
  readonly text: string;
  readonly start: number;
  readonly end: number;
  readonly score: number;
}

/** The result JSON: `{sources: [{text, start, end, score}], response, diagnostics: {requests, prompts, elapsedMs, lds?}}` and the run's settings. */
export async function contextJson(run: ContextRun, settings: { readonly api: string; readonly endpoint: string; readonly llm: string | undefined }) {
  const scores = await run.attribution.values.data();
  const sources: SourceJson[] = run.attribution.sources.map((s, i) => ({ source: s.source, text: s.text ?? '', start: s.start, end: s.end, score: scores[i]! }));
  const d = run.diagnostics;
  return {
    method: run.attribution.method,
    api: settings.api,
    endpoint: shownUrl(settings.endpoint), // a key in its query is not written
    ...(settings.llm === undefined ? {} : { llm: settings.llm }),
    sources,
    response: run.response,
    responseSpan: run.responseSpan,
    diagnostics: {
      requests: d.requests,
      prompts: d.prompts,
      cacheHits: d.cacheHits,
      elapsedMs: Math.round(d.elapsedMs),
      fullLogProb: d.fullLogProb,
      ...(d.lds === undefined ? {} : { lds: d.lds }),
      ...(d.topKDrop ? { topKDrop: d.topKDrop } : {}),
    },
  };
}

function contextReport(run: ContextRun, context: string, query: string, sources: readonly SourceJson[]): string {
  const { start, end } = run.responseSpan;
  const r = run.response;
  const answer = `<p><b>Query</b><br>${escapeHtml(query)}</p><p><b>Response</b><br>${escapeHtml(r.slice(0, start))}<mark>${escapeHtml(r.slice(start, end))}</mark>${escapeHtml(r.slice(end))}</p>`;
  const d = run.diagnostics;
  const facts: Record<string, string> = { sources: String(sources.length), requests: String(d.requests), prompts: String(d.prompts), 'cache hits': String(d.cacheHits), 'log p(response)': d.fullLogProb.toFixed(3), time: `${(d.elapsedMs / 1000).toFixed(1)} s` };
  if (d.lds !== undefined) facts['LDS'] = d.lds.toFixed(3);
  for (const t of d.topKDrop ?? []) facts[`log p drop, top ${t.k} removed`] = t.drop.toFixed(3);
  const ranked = [...sources].sort((a, b) => b.score - a.score).slice(0, 10);
  return renderReport({
    title: `Context attribution (${run.attribution.method})`,
    intro: 'Each source of the context is coloured by its score: how much it raised the probability of the (marked part of the) response. Hover a source for its score and rank.',
    sections: [{ title: 'Context', input: { kind: 'html', title: 'query and response', html: answer }, methods: [{ id: run.attribution.method, title: run.attribution.method, html: contextHtml(context, sources), facts }] }],
    summary: { header: ['rank', 'score', 'source'], rows: ranked.map((s, i) => [String(i + 1), s.score.toPrecision(4), s.text.length > 120 ? `${s.text.slice(0, 119)}…` : s.text]) },
  });
}

async function readText(file: string, what: string, cap: number): Promise<string> {
  const st = await stat(file).catch((e: NodeJS.ErrnoException) => {
    throw new InvalidArgumentError(`Option '--${what}' names ${JSON.stringify(file)}, which cannot be read (${e.code ?? 'error'})`, { arg: what, file });
  });
  if (!st.isFile() || st.size > cap) throw new InvalidArgumentError(`Option '--${what}' must name a text file of at most ${cap} bytes; ${JSON.stringify(file)} is ${st.isFile() ? `${st.size} bytes` : 'not a file'}`, { arg: what, file });
  return readFile(file, 'utf8');
}

/** Caller-given spans from JSON, checked for shape here and against the context by the library. */
async function readSpans(file: string): Promise<SourceSpan[]> {
  const text = await readText(file, 'spans', 16 * 1024 * 1024);
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (e) {
    throw new FileFormatError(`Option '--spans' file ${JSON.stringify(file)} is not JSON`, { arg: 'spans', file }, e);
  }
  if (!Array.isArray(j) || j.length > MAX_SOURCES) throw new FileFormatError(`Option '--spans' file must hold a JSON array of at most ${MAX_SOURCES} {"source", "start", "end"}`, { arg: 'spans', file });
  return j.map((s: unknown, i) => {
    const o = (typeof s === 'object' && s !== null ? s : {}) as { source?: unknown; start?: unknown; end?: unknown };
    if (typeof o.start !== 'number' || typeof o.end !== 'number') throw new FileFormatError(`Option '--spans' entry ${i} must have numeric start and end`, { arg: 'spans', file, index: i });
    return { source: typeof o.source === 'string' ? o.source : `s${i}`, start: o.start, end: o.end };
  });
}
