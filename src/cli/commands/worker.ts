import { InvalidArgumentError } from '../../core/errors.js';
import { runWorker } from '../../jobs/queue.js';
import { parseFlags, type FlagSpec } from '../args.js';
import { prepareRun } from './run.js';

export const WORKER_FLAGS: readonly FlagSpec[] = [
  { name: 'queue', type: 'string', help: 'redis://HOST:PORT: the queue `attrib run --queue` fills' },
  { name: 'concurrency', type: 'int', help: 'items computed at once by this worker', default: 1, min: 1, max: 64 },
  { name: 'lock-duration', type: 'int', help: 'ms an item stays locked without a heartbeat: after a worker dies, its item is retried this much later', default: 30_000, min: 1000, max: 3_600_000 },
  { name: 'threads', type: 'int', help: "threads ONNX Runtime may use inside one operator, for every job (overrides the job's --threads); 1 when one worker runs per core", min: 1, max: 256 },
  { name: 'quiet', type: 'bool', help: 'no line per item' },
];

/**
 * `attrib worker --queue redis://HOST:PORT`: computes queued items of `attrib run --queue` jobs until
 * interrupted (Ctrl-C). Each job is rebuilt from the flags it was queued with, so the worker must
 * see the model and the inputs at the same paths.
 */
export async function workerCommand(raw: Map<string, string | true>, signal: AbortSignal): Promise<void> {
  const flags = parseFlags(raw, WORKER_FLAGS, 'worker');
  const queue = flags.get('queue');
  if (typeof queue !== 'string') throw new InvalidArgumentError(`'attrib worker' needs --queue redis://HOST:PORT`, { arg: 'queue' });
  const quiet = flags.get('quiet') === true;
  const threads = flags.get('threads');
  const own: [string, string | true][] = [['quiet', true], ...(typeof threads === 'number' ? [['threads', String(threads)] as [string, string]] : [])];
  await runWorker(queue, (argv) => prepareRun(new Map([...argv, ...own]), signal), {
    concurrency: Number(flags.get('concurrency') ?? 1),
    lockDuration: Number(flags.get('lock-duration') ?? 30_000),
    signal,
    ...(quiet ? {} : { onItem: (key: string) => process.stderr.write(`attrib worker: ${key}\n`) }),
  });
}
