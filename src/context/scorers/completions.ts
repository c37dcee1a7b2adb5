import { CapabilityError, isAttributionError } from '../../core/errors.js';
import { arrayField, firstChoice, MAX_TOKENS, objectField, OpenAiStyleApi, throwIfErrorReply, type TokenScore } from './tokens.js';

/**
 * OpenAI-style `POST {endpoint}/completions` with `echo: true`, `logprobs: 1` and `max_tokens: 0`
 * (falling back to 1, once, where 0 is refused; the generated token is dropped): reads
 * `choices[0].logprobs.{tokens, token_logprobs, text_offset}` and keeps the tokens whose span
 * `[text_offset, next offset)` overlaps the response (tokenizers do not split on spaces: offsets
 * decide, not the token strings).
 *
 * Cost: one request per prompt scored.
 */
export class CompletionsApi extends OpenAiStyleApi {
  readonly api = 'completions' as const;
  private maxTokens = 0;

  async responseTokens(prompt: string, response: string): Promise<TokenScore[]> {
    const text = prompt + response;
    const body = () => this.body({ prompt: text, echo: true, logprobs: 1, max_tokens: this.maxTokens, temperature: 0 });
    let reply: unknown;
    try {
      reply = await this.client.post('/completions', body());
    } catch (e) {
      const status = isAttributionError(e) ? e.details['status'] : undefined;
      if (this.maxTokens !== 0 || (status !== 400 && status !== 422)) throw e;
      this.maxTokens = 1; // the server refuses max_tokens 0: generate one token and drop it
      reply = await this.client.post('/completions', body());
    }
    return echoedTokens(reply, text, prompt.length, this.client.shown);
  }

}

/** The echoed tokens of `text` that overlap `[from, text.length)`, offsets relative to `from`. */
export function echoedTokens(reply: unknown, text: string, from: number, url: string): TokenScore[] {
  throwIfErrorReply(reply, url);
  const noEcho = (why: string) =>
    new CapabilityError(`${url} did not echo the prompt's log-probabilities (${why}); for vLLM use --api vllm (prompt_logprobs), for llama.cpp's server --api llama.cpp`, { url, why });
  const lp = objectField(firstChoice(reply), 'logprobs');
  if (!lp) throw noEcho('no choices[0].logprobs');
  const tokens = arrayField(lp, 'tokens');
  const logprobs = arrayField(lp, 'token_logprobs');
  const offsets = arrayField(lp, 'text_offset');
  if (!tokens || !logprobs || !offsets) throw noEcho('choices[0].logprobs lacks tokens, token_logprobs or text_offset');
  const n = tokens.length;
  if (logprobs.length !== n || offsets.length !== n || n > MAX_TOKENS) throw noEcho(`tokens, token_logprobs and text_offset differ in length (${n}, ${logprobs.length}, ${offsets.length})`);
  if (n === 0 || offsets[0] !== 0) throw noEcho('the first token is not at offset 0');
  const out: TokenScore[] = [];
  for (let i = 0; i < n; i++) {
    const start = offsets[i];
    const next = i + 1 < n ? offsets[i + 1] : text.length;
    if (typeof start !== 'number' || typeof next !== 'number' || !(start <= next)) throw noEcho(`text_offset is not a non-decreasing list of numbers at token ${i}`);
    if (start >= text.length) break; // a generated token (max_tokens 1)
    const end = Math.min(next, text.length);
    if (end <= from) continue;
    const l = logprobs[i];
    if (typeof l !== 'number' || !Number.isFinite(l)) throw noEcho(`token ${i} inside the response has log-probability ${String(l)}`);
    out.push({ start: start - from, end: end - from, logprob: l });
  }
  if (out.length === 0 && text.length > from) throw noEcho('no echoed token covers the response');
  return out;
}
