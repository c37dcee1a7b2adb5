// The studio's guards: a session token, the Origin and Host of every API call, and the security
// headers of every response. The studio runs models on the user's machine, so a page from another
// site (or a rebound DNS name) must not reach it.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';

/** A fresh session token: 24 random bytes, base64url (printed in the start URL). */
export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

/** The header the app sends the token in; links (images, downloads) carry it as `?token=`. */
export const TOKEN_HEADER = 'x-attrib-token';

/**
 * Content-Security-Policy of every response: scripts, styles, images and API calls from the studio
 * itself only (images also from blob: URLs, the previews of files the user picked); no frames, no
 * plugins, no form posts elsewhere. `'wasm-unsafe-eval'` lets the in-browser engine compile TF.js's
 * WebAssembly (served by the studio from /wasm/); it allows no JavaScript eval.
 */
export const CSP = [
  "default-src 'none'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self'",
  "img-src 'self' blob:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Sets the security headers (CSP, no sniffing, no referrer, no framing, same-origin isolation) on every response. */
export function securityHeaders(): MiddlewareHandler {
  return async (c, next) => {
    await next();
    c.header('Content-Security-Policy', CSP);
    c.header('X-Content-Type-Options', 'nosniff');
    c.header('Referrer-Policy', 'no-referrer');
    c.header('X-Frame-Options', 'DENY');
    c.header('Cross-Origin-Opener-Policy', 'same-origin');
    c.header('Cross-Origin-Resource-Policy', 'same-origin');
    c.header('Cache-Control', 'no-store');
  };
}

/** Where the server listens, known once it is bound (the port may be chosen by the system). */
export interface Binding {
  readonly host: string;
  readonly port: number;
}

/** True for the addresses that mean every interface (`--host 0.0.0.0` or `::`). */
export const isWildcard = (host: string): boolean => host === '0.0.0.0' || host === '::';

/**
 * The Host header values that name this server: its host and port, and the loopback names when it is
 * on loopback. On every interface (0.0.0.0, ::) the server has no one name: every Host is taken, and the
 * Origin check compares with the request's own Host (the token still guards the API).
 */
export function allowedHosts(b: Binding, requestHost = ''): Set<string> {
  if (isWildcard(b.host)) return new Set([requestHost.toLowerCase()]);
  const hosts = new Set([hostPort(b.host, b.port)]);
  if (isLoopback(b.host)) for (const h of ['127.0.0.1', 'localhost', '::1']) hosts.add(hostPort(h, b.port));
  return hosts;
}

const hostPort = (host: string, port: number): string => `${host.includes(':') ? `[${host}]` : host}:${port}`;

/** True for the loopback addresses and names (127.0.0.0/8, ::1, localhost). */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * Refuses (403) a request whose Host is not this server's (DNS rebinding), and, for the API, one
 * without the session token (header or `?token=`) or from another Origin (an Origin header, when
 * sent, must be this server's; `Sec-Fetch-Site: cross-site` is refused too).
 */
export function guard(token: string, binding: () => Binding | undefined): MiddlewareHandler {
  const want = Buffer.from(token);
  return async (c, next) => {
    const b = binding();
    const host = c.req.header('host') ?? '';
    const hosts = b ? allowedHosts(b, host) : new Set<string>();
    if (!hosts.has(host.toLowerCase())) return c.json({ error: { code: 'forbidden', message: `Host '${host}' is not this studio's; open the URL the studio printed` } }, 403);
    if (!c.req.path.startsWith('/api/')) return next();
    const origin = c.req.header('origin');
    if (origin !== undefined && !hostsOfOrigin(origin, hosts)) return c.json({ error: { code: 'forbidden', message: `Requests from origin '${origin}' are refused` } }, 403);
    if (c.req.header('sec-fetch-site') === 'cross-site') return c.json({ error: { code: 'forbidden', message: 'Cross-site requests are refused' } }, 403);
    const given = Buffer.from(c.req.header(TOKEN_HEADER) ?? c.req.query('token') ?? '');
    if (given.length !== want.length || !timingSafeEqual(given, want)) {
      return c.json({ error: { code: 'forbidden', message: 'Missing or wrong session token: open the URL the studio printed (it carries ?token=…)' } }, 403);
    }
    return next();
  };
}

function hostsOfOrigin(origin: string, hosts: ReadonlySet<string>): boolean {
  const m = /^http:\/\/([^/]+)$/.exec(origin.toLowerCase());
  return m !== null && hosts.has(m[1]!);
}
