// Starts the studio: the Hono app on a Node HTTP server, bound to loopback unless told otherwise.
import { promises as fs } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import { InvalidArgumentError } from '../../core/errors.js';
import { studioApp } from './api.js';
import { studioAssets } from './assets.js';
import { ModelStore } from './models.js';
import { newToken, type Binding } from './security.js';

/** How to start the studio. */
export interface StartOptions {
  /** The folder of models (nothing outside it is read). */
  readonly models: string;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 0: a free port chosen by the system. */
  readonly port?: number;
  readonly engine?: string;
  /** Default 16 MiB. */
  readonly maxUploadBytes?: number;
  readonly maxPixels?: number;
  /** A fixed token (tests); default: a fresh random one. */
  readonly token?: string;
  readonly log?: (line: string) => void;
}

/** A running studio. */
export interface Studio {
  /** The start URL, with the token. */
  readonly url: string;
  readonly origin: string;
  readonly token: string;
  readonly address: AddressInfo;
  /** Cancels the jobs, closes the server, releases the models. */
  close(): Promise<void>;
}

export const DEFAULT_MAX_UPLOAD = 16 * 2 ** 20;

/**
 * Starts the studio server.
 * @throws {InvalidArgumentError} `invalid_argument` when the port is taken or the address cannot be bound.
 */
export async function startStudio(o: StartOptions): Promise<Studio> {
  const notFolder = (e?: unknown) => new InvalidArgumentError(`Option '--models' must be a readable folder, got '${o.models}'`, { arg: 'models' }, e);
  // a file (or anything else) is refused here: the store's listing skips what it cannot read
  const st = await fs.stat(o.models).catch((e: unknown) => {
    throw notFolder(e);
  });
  if (!st.isDirectory()) throw notFolder();
  const store = new ModelStore(o.models);
  await store.list().catch((e: unknown) => {
    throw notFolder(e);
  });
  const token = o.token ?? newToken();
  let binding: Binding | undefined;
  const { app, close } = studioApp({
    store,
    token,
    maxUploadBytes: o.maxUploadBytes ?? DEFAULT_MAX_UPLOAD,
    maxPixels: o.maxPixels ?? 50_000_000,
    engine: o.engine ?? 'auto',
    assets: studioAssets(),
    binding: () => binding,
    ...(o.log ? { log: o.log } : {}),
  });
  const server = createAdaptorServer({ fetch: app.fetch });
  const host = o.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(new InvalidArgumentError(`The studio cannot listen on ${host}:${o.port ?? 0} (${e.code ?? 'error'})${e.code === 'EADDRINUSE' ? ': the port is taken, give another with --port' : ''}`, { arg: 'port', host, port: o.port ?? 0 }, e)),
    );
    server.listen(o.port ?? 0, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  binding = { host, port: address.port };
  const origin = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
  return {
    url: `${origin}/?token=${token}`,
    origin,
    token,
    address,
    async close() {
      await close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await store.dispose();
    },
  };
}
