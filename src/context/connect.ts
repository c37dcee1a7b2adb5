import { InvalidArgumentError } from '../core/errors.js';
import { HttpClient, type HttpOptions } from './http.js';
import { CompletionsApi } from './scorers/completions.js';
import { LlamaCppApi } from './scorers/llama-cpp.js';
import { API_NAMES, type ApiName, type LogProbApi } from './scorers/tokens.js';
import { VllmApi } from './scorers/vllm.js';

export interface ConnectOptions extends HttpOptions {
  /** The protocol: `completions` (OpenAI-style echo), `vllm` (prompt_logprobs) or `llama.cpp`. */
  readonly api: ApiName;
  /** Base URL: `http://host:8000/v1` for OpenAI-style servers and vLLM, `http://host:8080` for llama.cpp. */
  readonly endpoint: string;
  /** Sent as the request's `model` (OpenAI-style servers and vLLM). */
  readonly model?: string;
}

/**
 * A log-probability scorer for a server, speaking `api` through a {@link HttpClient} (concurrency,
 * retries, budget, timeouts, API key).
 *
 * @throws {InvalidArgumentError} `invalid_argument` for an unknown `api` or a malformed endpoint.
 */
export function connect(opts: ConnectOptions): LogProbApi {
  const fn = 'connect';
  if (!API_NAMES.includes(opts.api)) {
    throw new InvalidArgumentError(`Argument 'api' passed to '${fn}' must be one of ${API_NAMES.join(', ')}, got ${JSON.stringify(opts.api)}`, { arg: 'api', fn });
  }
  const client = new HttpClient(opts.endpoint, opts);
  switch (opts.api) {
    case 'completions':
      return new CompletionsApi(client, opts.model);
    case 'vllm':
      return new VllmApi(client, opts.model);
    default:
      return new LlamaCppApi(client, opts.model);
  }
}
