// The studio's job queue: one job runs at a time (the machine's cores go to that one), each with
// its progress, an AbortController to cancel it, and its outcome kept for the app to fetch.
import { randomBytes } from 'node:crypto';
import { isAttributionError } from '../../core/errors.js';
import type { Progress } from '../../core/types.js';
import { notFound, StudioRequestError } from './models.js';
import type { JobOutcome, JobRequest } from './run.js';

export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

/** A job and what is known about it so far. */
export interface Job {
  readonly id: string;
  readonly request: JobRequest;
  state: JobState;
  progress?: Progress;
  error?: { readonly code: string; readonly message: string };
  outcome?: JobOutcome;
  readonly controller: AbortController;
  readonly submitted: number;
  startedMs?: number;
  finishedMs?: number;
}

/** Runs a job; rejects with `aborted` when `signal` fires. */
export type JobRunner = (request: JobRequest, signal: AbortSignal, onProgress: (p: Progress) => void) => Promise<JobOutcome>;

/** Finished jobs kept (the oldest are dropped beyond this). */
const KEEP_FINISHED = 64;
/** Jobs waiting at once; more are refused. */
const MAX_QUEUED = 64;

/**
 * Runs jobs one after the other. `submit` queues a checked request; `cancel` aborts a running job
 * (through its AbortSignal) or drops a queued one; `close` cancels everything and waits.
 */
export class JobQueue {
  private readonly jobs = new Map<string, Job>();
  private tail: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly runner: JobRunner,
    private readonly log: (line: string) => void = () => undefined,
  ) {}

  /** Queues a job. @throws {StudioRequestError} 429 when too many are waiting. */
  submit(request: JobRequest): Job {
    const waiting = [...this.jobs.values()].filter((j) => j.state === 'queued' || j.state === 'running').length;
    if (this.closed || waiting >= MAX_QUEUED) throw new StudioRequestError(429, `The studio has ${waiting} jobs waiting; cancel some or wait`);
    const job: Job = { id: randomBytes(8).toString('hex'), request, state: 'queued', controller: new AbortController(), submitted: Date.now() };
    this.jobs.set(job.id, job);
    this.tail = this.tail.then(() => this.run(job));
    this.prune();
    return job;
  }

  /** @throws {StudioRequestError} 404 for an unknown id. */
  get(id: string): Job {
    const job = this.jobs.get(id);
    if (!job) throw notFound(`No job '${id}'`, { job: id });
    return job;
  }

  /** Cancels a queued or running job (a finished one stays as it is). */
  cancel(id: string): Job {
    const job = this.get(id);
    if (job.state === 'queued') {
      job.state = 'cancelled';
      job.finishedMs = Date.now();
    }
    job.controller.abort();
    return job;
  }

  /** Cancels every job and waits for the running one to stop. */
  async close(): Promise<void> {
    this.closed = true;
    for (const j of this.jobs.values()) if (j.state === 'queued' || j.state === 'running') this.cancel(j.id);
    await this.tail;
  }

  private async run(job: Job): Promise<void> {
    if (job.state !== 'queued') return;
    job.state = 'running';
    job.startedMs = Date.now();
    try {
      job.outcome = await this.runner(job.request, job.controller.signal, (p) => (job.progress = p));
      job.state = 'done';
    } catch (e) {
      if (job.controller.signal.aborted || (isAttributionError(e) && e.code === 'aborted')) {
        job.state = 'cancelled';
      } else {
        job.state = 'failed';
        job.error = isAttributionError(e) ? { code: e.code, message: e.message } : { code: 'internal', message: 'internal error (see the studio’s terminal)' };
        if (!isAttributionError(e)) this.log(`attrib studio: job ${job.id} failed: ${(e as Error)?.stack ?? String(e)}`);
      }
    } finally {
      job.finishedMs = Date.now();
    }
  }

  private prune(): void {
    const finished = [...this.jobs.values()].filter((j) => j.state !== 'queued' && j.state !== 'running');
    for (const j of finished.slice(0, Math.max(0, finished.length - KEEP_FINISHED))) this.jobs.delete(j.id);
  }
}

/** A job as the API shows it: state, progress, error, result JSON and display scales, metrics. */
export function jobStatus(job: Job): Record<string, unknown> {
  const o = job.outcome;
  return {
    id: job.id,
    method: job.request.method.id,
    model: job.request.model,
    state: job.state,
    ...(job.progress ? { progress: job.progress } : {}),
    ...(job.error ? { error: job.error } : {}),
    ...(job.startedMs && job.finishedMs ? { wallMs: job.finishedMs - job.startedMs } : {}),
    ...(o ? { result: o.json } : {}),
    ...(o?.image ? { image: { rows: o.image.geometry.rows, height: o.image.geometry.height, width: o.image.geometry.width, scales: o.image.scales, overlay: o.image.images !== undefined } } : {}),
    ...(o?.metrics ? { metrics: { fractions: o.metrics.fractions, deletion: o.metrics.deletion, insertion: o.metrics.insertion } } : {}),
  };
}
