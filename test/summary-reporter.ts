import type { Reporter } from 'vitest/reporters';

/** Prints the plain closing line 'N passed, N failed[, N skipped]' that CI reads. */
export default class SummaryReporter implements Reporter {
  onFinished(files: readonly { tasks: unknown[] }[] = []): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    const visit = (task: { type?: string; mode?: string; result?: { state?: string }; tasks?: unknown[] }): void => {
      if (task.type === 'test') {
        if (task.mode === 'skip' || task.mode === 'todo') skipped++;
        else if (task.result?.state === 'pass') passed++;
        else if (task.result?.state === 'fail') failed++;
        else skipped++;
      }
      for (const t of task.tasks ?? []) visit(t as typeof task);
    };
    for (const f of files) for (const t of f.tasks) visit(t as Parameters<typeof visit>[0]);
    process.stdout.write(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}
