import type { ConnectionOptions, Job as BullJob, Queue, QueueEvents, Worker } from 'bullmq';
import { AbortedError, BackendError, InvalidArgumentError, type AttributionError } from '../core/errors.js';
import { importPeer, type PeerImporter } from '../models/peers.js';
import { computeItem, expectedRowShape, workItems, type Job, type JobSummary, type LocalJob, type WorkItem } from './run-job.js';
import { canonicalJson, digest, type Json } from './settings.js';
import type { ResultRow } from './store.js';

/** The BullMQ queue every `attrib run --queue` and `attrib worker` uses, and the Redis hash of job progress. */
export const QUEUE_NAME = 'attrib-items';
const PROGRESS_KEY = 'attrib:jobs';
/** Attempts of an item that fails with an error other than a typed error of its input. */
const ATTEMPTS = 3;
/** How often a coordinator looks at its items in Redis, for results or failures whose event it missed. */
const SWEEP_MS = 3000;

/** What a queued item carries: the job's flags (a worker rebuilds the job from them) and the item's key. */
export interface QueuedItem {
  readonly job: string;
  readonly argv: readonly (readonly [string, string | true])[];
  readonly key: string;
}

type Bull = typeof import('bullmq');

/** `redis://HOST:PORT[/DB]` as BullMQ connection options (workers need `maxRetriesPerRequest: null`). */
export function connectionOf(url: string): ConnectionOptions {
  const m = /^redis:\/\/(?:([^@/]*)@)?([^:/]+)(?::(\d+))?(?:\/(\d+))?$/.exec(url);
  if (!m) throw new InvalidArgumentError(`Option '--queue' must be redis://HOST:PORT, got '${url}'`, { arg: 'queue', value: url });
  const password = m[1]?.includes(':') ? m[1].slice(m[1].indexOf(':') + 1) : m[1];
  return { host: m[2]!, port: Number(m[3] ?? 6379), db: Number(m[4] ?? 0), maxRetriesPerRequest: null, ...(password ? { password: decodeURIComponent(password) } : {}) };
}

/** A result row as JSON (the attribution as base64 float32 bytes), for a BullMQ return value. */
export function rowToJson(row: ResultRow): Json {
  const { attribution, ...rest } = row;
  const a = attribution ? { shape: [...attribution.shape], data: Buffer.from(Float32Array.from(attribution.data).buffer).toString('base64') } : null;
  return JSON.parse(JSON.stringify({ ...rest, attribution: a })) as Json;
}

/** The inverse of {@link rowToJson}. */
export function rowFromJson(v: unknown): ResultRow {
  const r = v as Omit<ResultRow, 'attribution'> & { attribution: { shape: number[]; data: string } | null };
  const { attribution, ...rest } = r;
  if (!attribution) return rest;
  const bytes = Buffer.from(attribution.data, 'base64');
  const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  return { ...rest, attribution: { dtype: 'float32', shape: attribution.shape, data } };
}

/** The BullMQ job id of an item (ids may not hold ':'). */
const jobIdOf = (job: string, key: string): string => digest(`${job}\n${key}`).slice(0, 40);

/**
 * Runs a job on workers: puts every item the store lacks on the queue (`attrib worker`s on any
 * machine that sees the model and the inputs compute them) and stores each result as it arrives.
 * Items already done by workers while no coordinator listened (it was killed) are collected first;
 * an item whose worker died is retried by BullMQ once its lock expires. Progress is also published
 * in Redis for `attrib run --status`.
 * @throws {AbortedError} `aborted` when `signal` aborts (stored results stay; queued items stay queued).
 * @throws {BackendError} `backend_failure` when an item failed on every attempt (e.g. a worker cannot
 *   read the model); started again, the job retries it.
 */
export async function runQueued(job: LocalJob, url: string, argv: QueuedItem['argv'], storeName: string, importer?: PeerImporter): Promise<JobSummary> {
  const t0 = performance.now();
  const bull = (await importPeer('bullmq', importer)) as Bull;
  const connection = connectionOf(url);
  // items belong to this store (a store of the same settings elsewhere gets its own)
  const id = digest(`${job.store.id}\n${canonicalJson(job.store.settings)}`).slice(0, 16);
  const items = workItems(job.dataset, job.targets);
  const byJobId = new Map(items.map((w) => [jobIdOf(id, w.key), w]));
  const done = await job.store.doneItems();
  const resumed = items.filter((w) => done.has(w.key)).length;
  const queue: Queue = new bull.Queue(QUEUE_NAME, { connection });
  const events: QueueEvents = new bull.QueueEvents(QUEUE_NAME, { connection });
  let computed = 0;
  let failed = 0;
  let writing = Promise.resolve();
  // set when the coordinator stops: a result event still dispatched after that (QueueEvents may emit
  // what it had read before it closed) must not write to a store the caller is about to close
  let closing = false;
  const store = (jobId: string, value: unknown): void => {
    const w = byJobId.get(jobId);
    if (closing || !w || done.has(w.key)) return;
    done.add(w.key);
    writing = writing.then(async () => {
      const row = rowFromJson(value);
      await job.store.put(row);
      computed++;
      if (row.status === 'error') failed++;
      job.onProgress?.({ phase: 'run', done: resumed + computed, total: items.length });
      await queue.client.then((c) => c.hset(PROGRESS_KEY, { [id]: JSON.stringify({ store: storeName, method: job.method.id, done: resumed + computed, total: items.length, at: new Date().toISOString() }) }));
    });
  };
  try {
    await events.waitUntilReady();
    events.on('completed', ({ jobId, returnvalue }) => store(jobId, typeof returnvalue === 'string' ? JSON.parse(returnvalue) : returnvalue));
    // results of items computed while no coordinator listened
    const pending = items.filter((w) => !done.has(w.key));
    // an item that failed on every attempt stops the job (a fresh start retries it)
    let fatal: AttributionError | undefined;
    const failedFor = (w: WorkItem, reason: string): AttributionError =>
      new BackendError(`Item '${w.key}' failed on the workers ${ATTEMPTS} times: ${reason}; fix the cause and run the job again (it retries failed items)`, { item: w.key, reason });
    events.on('failed', ({ jobId, failedReason }) => {
      const w = byJobId.get(jobId);
      if (!w || done.has(w.key)) return;
      // (the sweep finds it too; this only makes it sooner, and may run after the queue closed)
      queue
        .getJob(jobId)
        .then(async (bj) => {
          if (bj && (await bj.getState()) === 'failed') fatal ??= failedFor(w, failedReason);
        })
        .catch(() => undefined);
    });
    const sweep = async (retryFailed: boolean): Promise<void> => {
      for (const w of items) {
        if (done.has(w.key)) continue;
        const jid = jobIdOf(id, w.key);
        const bj: BullJob | undefined = await queue.getJob(jid);
        const state = bj ? await bj.getState() : undefined;
        if (state === 'completed') store(jid, bj!.returnvalue);
        else if (state === 'failed') {
          if (retryFailed) await bj!.retry();
          else fatal ??= failedFor(w, bj!.failedReason);
        }
      }
    };
    await sweep(true);
    await queue.addBulk(
      pending.filter((w) => !done.has(w.key)).map((w) => ({ name: 'item', data: { job: id, argv, key: w.key } satisfies QueuedItem, opts: { jobId: jobIdOf(id, w.key), attempts: ATTEMPTS, removeOnComplete: { age: 7 * 24 * 3600 }, removeOnFail: false } })),
    );
    // until every item is stored: events, and a sweep every few seconds for any event missed
    let swept = performance.now();
    while (done.size < items.length || computed + resumed < items.length) {
      if (job.signal?.aborted) throw new AbortedError('runQueued', job.signal.reason);
      await new Promise((r) => setTimeout(r, 250));
      if (done.size < items.length && performance.now() - swept > SWEEP_MS) {
        await sweep(false);
        swept = performance.now();
      }
      if (fatal) throw fatal;
      await writing;
    }
    await writing;
    return { total: items.length, resumed, computed, failed, elapsedMs: performance.now() - t0 };
  } finally {
    // no new results, then the ones being written, before the caller closes the store
    closing = true;
    await events.close();
    await writing.catch(() => undefined);
    await queue.close();
  }
}

/** A job as a worker holds it: built once from its flags, with its items by key. */
interface WorkerJob {
  readonly job: Job;
  readonly items: ReadonlyMap<string, WorkItem>;
  readonly rowShape: readonly (number | null)[] | undefined;
  dispose(): void;
}

/**
 * Starts a worker: takes items from the queue, rebuilds each job once from its flags (`prepare`,
 * the CLI's `attrib run` parsing), computes the item and returns its row to the coordinator.
 * A typed error of the input becomes an error row; other errors fail the attempt (3 attempts).
 * A worker killed mid-item holds its lock until `lockDuration` ms pass; then another worker takes it.
 * Resolves, after closing, when `signal` aborts.
 */
export async function runWorker(
  url: string,
  prepare: (argv: ReadonlyMap<string, string | true>) => Promise<{ job: Job; dispose(): void }>,
  opts: { readonly concurrency?: number; readonly lockDuration?: number; readonly signal?: AbortSignal; readonly onItem?: (key: string) => void } = {},
  importer?: PeerImporter,
): Promise<void> {
  const bull = (await importPeer('bullmq', importer)) as Bull;
  const jobs = new Map<string, Promise<WorkerJob>>();
  const load = async (argv: QueuedItem['argv']): Promise<WorkerJob> => {
    const p = await prepare(new Map(argv));
    return { job: p.job, items: new Map(workItems(p.job.dataset, p.job.targets).map((w) => [w.key, w])), rowShape: await expectedRowShape(p.job), dispose: p.dispose };
  };
  const lockDuration = opts.lockDuration ?? 30_000;
  const worker: Worker = new bull.Worker(
    QUEUE_NAME,
    async (bj: BullJob) => {
      const q = bj.data as QueuedItem;
      const k = canonicalJson(q.argv);
      if (!jobs.has(k)) jobs.set(k, load(q.argv));
      const wj = await jobs.get(k)!.catch((e: unknown) => {
        jobs.delete(k);
        throw e;
      });
      const w = wj.items.get(q.key);
      if (!w) throw new InvalidArgumentError(`Item '${q.key}' is not in the job's dataset on this worker (do the workers see the same inputs?)`, { key: q.key });
      const row = await computeItem(wj.job, w, wj.rowShape);
      opts.onItem?.(q.key);
      return rowToJson(row);
    },
    { connection: connectionOf(url), concurrency: opts.concurrency ?? 1, lockDuration, stalledInterval: Math.max(1000, Math.floor(lockDuration / 2)), maxStalledCount: 2 },
  );
  await new Promise<void>((resolve) => {
    if (opts.signal?.aborted) resolve();
    opts.signal?.addEventListener('abort', () => resolve(), { once: true });
  });
  await worker.close();
  for (const p of jobs.values()) await p.then((wj) => wj.dispose(), () => undefined);
}

/** `attrib run --status`: each queued job's stored rows, and the queue's waiting/active/failed counts. */
export async function queueStatus(url: string, importer?: PeerImporter): Promise<string> {
  const bull = (await importPeer('bullmq', importer)) as Bull;
  const queue: Queue = new bull.Queue(QUEUE_NAME, { connection: connectionOf(url) });
  try {
    const counts = await queue.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed');
    const client = await queue.client;
    const jobs = Object.values(await client.hgetall(PROGRESS_KEY)).map((v) => JSON.parse(v) as { store: string; method: string; done: number; total: number; at: string });
    const lines = jobs.sort((a, b) => a.at.localeCompare(b.at)).map((j) => `${j.store}: ${j.method}, ${j.done}/${j.total} rows stored (${((100 * j.done) / Math.max(1, j.total)).toFixed(0)}%), last at ${j.at}`);
    return [...(lines.length ? lines : ['no queued jobs have stored results yet']), `queue ${QUEUE_NAME}: ${counts['waiting'] ?? 0} waiting, ${counts['active'] ?? 0} active, ${counts['delayed'] ?? 0} delayed, ${counts['completed'] ?? 0} completed, ${counts['failed'] ?? 0} failed`].join('\n');
  } finally {
    await queue.close();
  }
}
