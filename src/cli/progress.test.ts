import { describe, expect, it } from 'vitest';
import { formatDuration, ProgressBar } from './progress.js';

/** A stream stand-in that records what is written; `isTTY` as given. */
function stream(isTTY: boolean): NodeJS.WriteStream & { text: string } {
  const s = { isTTY, text: '', write(chunk: string) { s.text += chunk; return true; } };
  return s as unknown as NodeJS.WriteStream & { text: string };
}

describe('ProgressBar', () => {
  it('without a TTY prints occasional plain lines, no bar, and no ETA while it cannot be estimated', () => {
    let now = 0;
    const out = stream(false);
    const bar = new ProgressBar('Kernel SHAP', true, out, () => now);
    now = 300;
    bar.update({ phase: 'kernel SHAP', done: 1, total: 1_000_000 }); // the first call: far too early for an ETA
    now = 5_000;
    bar.update({ phase: 'kernel SHAP', done: 2, total: 1_000_000 }); // within 10 s of the last line: nothing
    now = 20_000;
    bar.update({ phase: 'kernel SHAP', done: 100_000, total: 1_000_000 });
    now = 21_000;
    bar.update({ phase: 'fitting the weighted regression (3072 features)', done: 1_000_000, total: 1_000_000 }); // a new phase: a line at once
    now = 40_000;
    bar.update({ phase: 'kernel SHAP', done: 1_000_000, total: 1_000_000 }); // the end: no line in a log
    const lines = out.text.trimEnd().split('\n');
    expect(lines).toEqual(['Kernel SHAP 0% 1/1000000 rows', 'Kernel SHAP 10% 100000/1000000 rows, eta 2m57s', 'Kernel SHAP: fitting the weighted regression (3072 features) 100% 1000000/1000000 rows']);
  });

  it('on a TTY draws a bar from the first finished call after 250 ms, with the phase when it differs from the label', () => {
    let now = 0;
    const out = stream(true);
    const bar = new ProgressBar('Integrated Gradients', true, out, () => now);
    now = 100;
    bar.update({ phase: 'finding targets', done: 8, total: 416 });
    expect(out.text).toBe(''); // too soon: no flash on quick runs
    now = 400;
    bar.update({ phase: 'integrated gradients', done: 136, total: 416 });
    expect(out.text).toMatch(/^\rIntegrated Gradients \[#+-+\] 33% 136\/416 rows/);
    expect(out.text).not.toMatch(/eta/);
    now = 2_000;
    bar.update({ phase: 'completeness check', done: 408, total: 416 });
    expect(out.text).toMatch(/Integrated Gradients: completeness check \[#+-*\] 98% 408\/416 rows, eta 0s/);
    bar.done();
    expect(out.text.endsWith('\r')).toBe(true);
  });

  it('never shows an absurd ETA', () => {
    let now = 0;
    const out = stream(true);
    const bar = new ProgressBar('LIME', true, out, () => now);
    now = 300;
    bar.update({ phase: 'LIME', done: 1, total: 1e12 });
    now = 3_000;
    bar.update({ phase: 'LIME', done: 1e11, total: 1e12 });
    expect(out.text).toMatch(/eta /);
    now = 36_000_000; // 10 hours for 5 %: the rest would take 8 days
    bar.update({ phase: 'LIME', done: 5e10, total: 1e12 });
    expect(out.text.split('\r').at(-1)).toMatch(/ 5% /);
    expect(out.text.split('\r').at(-1)).not.toMatch(/eta/); // over a week away: left out
    now = 36_000_100;
    bar.update({ phase: 'LIME', done: 5e10, total: 0 });
    expect(out.text.split('\r').at(-1)).toMatch(/ 5% /); // an unknown total draws nothing
  });

  it('formats durations', () => {
    expect([formatDuration(42.4), formatDuration(200), formatDuration(4000)]).toEqual(['42s', '3m20s', '1h06m']);
  });
});
