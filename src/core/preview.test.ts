import { describe, expect, it } from 'vitest';
import { preview } from './preview.js';

describe('preview', () => {
  it('renders small values as JSON', () => {
    expect(preview({ a: [1, 'x', null, true] })).toBe('{"a":[1,"x",null,true]}');
    expect(preview('tok')).toBe('"tok"');
    expect(preview(undefined)).toBe('undefined');
  });

  it('cuts long strings, wide arrays and deep nesting at max characters, fast', () => {
    let deep: unknown = 1;
    for (let d = 0; d < 100_000; d++) deep = [deep];
    const values = ['x'.repeat(5_000_000), Array.from({ length: 1_000_000 }, () => 'word'), deep];
    const t0 = performance.now();
    for (const v of values) {
      const s = preview(v, 40);
      expect(s.length).toBe(41);
      expect(s.endsWith('…')).toBe(true);
    }
    // stringifying these whole takes hundreds of ms; the preview walks ~40 characters' worth
    expect(performance.now() - t0).toBeLessThan(100);
  });
});
