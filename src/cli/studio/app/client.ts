// The app's calls to the studio API: the session token from the start URL goes in a header (and,
// for images and downloads, in their URLs).

/** The token the studio printed in its start URL (`?token=`). */
export const TOKEN = new URLSearchParams(location.search).get('token') ?? '';

/** An API error as the server sends it. */
export class ApiError {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly message: string,
  ) {}
}

async function call<T>(method: string, url: string, body?: BodyInit, type?: string): Promise<T> {
  const res = await fetch(url, { method, headers: { 'x-attrib-token': TOKEN, ...(type ? { 'content-type': type } : {}) }, ...(body === undefined ? {} : { body }) });
  const json: unknown = await res.json().catch(() => ({}));
  if (!res.ok) {
    const e = (json as { error?: { code?: string; message?: string } }).error;
    throw new ApiError(res.status, e?.code ?? 'error', e?.message ?? `${res.status} ${res.statusText}`);
  }
  return json as T;
}

export const get = <T>(url: string): Promise<T> => call<T>('GET', url);
export const post = <T>(url: string, body?: unknown): Promise<T> => call<T>('POST', url, body === undefined ? undefined : JSON.stringify(body), 'application/json');
export const upload = <T>(url: string, file: Blob): Promise<T> => call<T>('POST', url, file, 'application/octet-stream');

/** A URL of the API with the token (for <img src> and download links). */
export function withToken(url: string, params: Record<string, string | number> = {}): string {
  const q = new URLSearchParams({ ...Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)])), token: TOKEN });
  return `${url}?${q.toString()}`;
}

/** Builds an element: `h('div', {class: 'x'}, child, 'text')`. Text is always set as text, never as HTML. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string | boolean | undefined> = {}, ...children: (Node | string | undefined)[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c !== undefined) el.append(c);
  return el;
}
