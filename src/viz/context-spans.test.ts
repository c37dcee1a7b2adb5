import { describe, expect, it } from 'vitest';
import { contextHtml } from './context-spans.js';

describe('contextHtml', () => {
  it('highlights the spans, escapes the text, keeps line breaks and ranks scores in the tooltips', () => {
    const text = 'A <b> fact.\nSecond & last.';
    const html = contextHtml(text, [{ start: 0, end: 11, score: -0.5 }, { start: 12, end: 26, score: 2 }]);
    expect(html).toContain('A &lt;b&gt; fact.</span><br><span');
    expect(html).toContain('Second &amp; last.</span>');
    expect(html).toContain('title="#1: 2.000"');
    expect(html).toContain('title="#2: -0.5000"');
    // the strongest span is saturated (white text), the weaker one not
    expect(html.match(/color:#fff/g)).toHaveLength(1);
  });
});
