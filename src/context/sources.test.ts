import { describe, expect, it } from 'vitest';
import { DEFAULT_TEMPLATE, PromptBuilder } from './prompt.js';
import { checkSpans, MAX_SOURCES, splitSources } from './sources.js';

const TEXT = 'First fact. Second one! Is it third?  "Quoted end." Last\n\nNew para here.\nA line.';

describe('splitSources', () => {
  it('sentences keep exact character offsets and skip the white space between them', () => {
    const s = splitSources(TEXT, 'sentences');
    expect(s.map((x) => x.text)).toEqual(['First fact.', 'Second one!', 'Is it third?', '"Quoted end."', 'Last', 'New para here.', 'A line.']);
    for (const x of s) expect(TEXT.slice(x.start, x.end)).toBe(x.text);
    expect(s.map((x) => x.source)).toEqual(['s0', 's1', 's2', 's3', 's4', 's5', 's6']);
  });

  it('lines and paragraphs', () => {
    expect(splitSources(TEXT, 'lines').map((x) => x.text)).toEqual(['First fact. Second one! Is it third?  "Quoted end." Last', 'New para here.', 'A line.']);
    const p = splitSources(TEXT, 'paragraphs');
    expect(p.map((x) => [x.start, x.end])).toEqual([[0, 56], [58, TEXT.length]]);
  });

  it('handles Windows line ends', () => {
    const crlf = 'One.\r\nTwo\r\n\r\nThree';
    expect(splitSources(crlf, 'paragraphs').map((x) => x.text)).toEqual(['One.\r\nTwo', 'Three']);
    expect(splitSources(crlf, 'lines').map((x) => x.text)).toEqual(['One.', 'Two', 'Three']);
    expect(splitSources(crlf, 'sentences').map((x) => x.text)).toEqual(['One.', 'Two', 'Three']);
  });

  it('rejects an empty context, an unknown unit and too many sources', () => {
    expect(() => splitSources('', 'sentences')).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
    expect(() => splitSources(' \n\t ', 'lines')).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
    expect(() => splitSources('a', 'words' as 'lines')).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
    expect(() => splitSources('x\n'.repeat(MAX_SOURCES + 1), 'lines')).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
  });
});

describe('checkSpans', () => {
  it('fills in the text of caller-given spans (documents, chat turns)', () => {
    expect(checkSpans('user: hi\nbot: hello', [{ source: 'turn-1', start: 0, end: 8 }, { source: 'turn-2', start: 9, end: 19 }]).map((s) => s.text)).toEqual(['user: hi', 'bot: hello']);
  });
  it.each([
    [[]],
    [[{ source: 'a', start: 0, end: 0 }]],
    [[{ source: 'a', start: 2, end: 5 }, { source: 'b', start: 4, end: 6 }]],
    [[{ source: 'a', start: 0, end: 99 }]],
    [[{ source: 'a', start: 0.5, end: 2 }]],
  ])('rejects bad spans %j', (spans) => {
    expect(() => checkSpans('0123456789', spans)).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
  });
});

describe('PromptBuilder', () => {
  const src = splitSources('A b. C d. E f.', 'sentences');
  it('removes ablated sources, keeping the separators; the template holds context and query', () => {
    const p = new PromptBuilder('A b. C d. E f.', src, 'why $1?');
    expect(p.prompt([1, 1, 1])).toBe(DEFAULT_TEMPLATE.replace('{context}', 'A b. C d. E f.').replace('{query}', () => 'why $1?'));
    expect(p.ablatedContext([1, 0, 1])).toBe('A b.  E f.');
    expect(p.ablatedContext([0, 0, 0])).toBe('  ');
  });
  it('replaces ablated sources when asked', () => {
    const p = new PromptBuilder('A b. C d. E f.', src, 'q', '{context}|{query}|', { replacement: '[…]' });
    expect(p.prompt([0, 1, 0])).toBe('[…] C d. […]|q|');
  });
  it('needs {context} exactly once', () => {
    expect(() => new PromptBuilder('x', src, 'q', 'no slot')).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
    expect(() => new PromptBuilder('x', src, 'q', '{context}{context}')).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
  });
});
