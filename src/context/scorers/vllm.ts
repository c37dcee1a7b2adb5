import { CapabilityError } from '../../core/errors.js';
import { alignFromEnd, arrayField, firstChoice, OpenAiStyleApi, throwIfErrorReply, type TokenScore } from './tokens.js';

/**
 * vLLM's OpenAI-compatible `POST {endpoint}/completions` with `prompt_logprobs: 0` and `max_tokens: 1`:
 * `choices[0].prompt_logprobs` holds one entry per prompt token, `null` first (vLLM prepends BOS for
 * models that have one, which shifts every position by one), then `{token_id: {logprob,
 * decoded_token}}` with the actual token first. The decoded pieces are aligned to the text from its
 * end, so the BOS shift (or its absence) does not move the response tokens.
 *
 * Cost: one request per prompt scored.
 */
export class VllmApi extends OpenAiStyleApi {
  readonly api = 'vllm' as const;

  async responseTokens(prompt: string, response: string): Promise<TokenScore[]> {
    const text = prompt + response;
    const reply = await this.client.post('/completions', this.body({ prompt: text, max_tokens: 1, temperature: 0, prompt_logprobs: 0 }));
    return promptLogprobTokens(reply, text, prompt.length, this.client.shown);
  }

}

/** Response tokens from vLLM's `prompt_logprobs`, offsets relative to `from`. */
export function promptLogprobTokens(reply: unknown, text: string, from: number, url: string): TokenScore[] {
  throwIfErrorReply(reply, url);
  const bad = (why: string) => new CapabilityError(`${url} did not return vLLM prompt_logprobs (${why}); for other OpenAI-style servers that echo use --api completions, for llama.cpp's server --api llama.cpp`, { url, why });
  // vLLM puts them in choices[0]; some builds also at the top level
  const entries = arrayField(firstChoice(reply), 'prompt_logprobs') ?? arrayField(reply, 'prompt_logprobs');
  if (!entries || entries.length === 0) throw bad('no choices[0].prompt_logprobs');
  const lengths: number[] = [];
  const logprobs: (number | null)[] = [];
  for (const [i, e] of entries.entries()) {
    if (e === null) {
      lengths.push(0); // BOS, or the first token (no log-probability): the backward alignment places it
      logprobs.push(null);
      continue;
    }
    if (typeof e !== 'object' || Array.isArray(e)) throw bad(`entry ${i} is not an object`);
    // prompt_logprobs 0: one entry, the actual token (with more, integer keys sort by id, not by role)
    const values = Object.values(e);
    if (values.length !== 1) throw bad(`entry ${i} holds ${values.length} tokens, not the prompt token alone (prompt_logprobs 0)`);
    const first = values[0] as { logprob?: unknown; decoded_token?: unknown } | undefined;
    if (typeof first?.logprob !== 'number' || typeof first.decoded_token !== 'string') throw bad(`entry ${i} lacks logprob or decoded_token`);
    lengths.push(first.decoded_token.length);
    logprobs.push(first.logprob);
  }
  let covered = 0;
  for (const l of lengths) covered += l;
  if (covered < text.length - from) throw bad(`the decoded tokens cover ${covered} characters, fewer than the response's ${text.length - from}`);
  return alignFromEnd(lengths, logprobs, text.length, from, url);
}
