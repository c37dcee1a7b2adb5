import { Rng } from '../core/random.js';

/**
 * Synthetic tasks with known ground truth, shared by the training script, the demo and tests.
 *
 * Image (32×32×3, 4 classes): uniform background in [0, 0.3]; a red 6×6 square in one of the four
 * quadrants decides the class (0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right); a green 6×6
 * distractor sits in another quadrant and never matters. Relevant pixels: the red square.
 *
 * Tabular (10 features, 3 classes): x ~ N(0, 1); logits of the generating rule are
 * (x0 + x1, x2 − x3, 0.5 − 0.5·(x0 + x3)); class = arg-max; features 4–9 are noise.
 */
export const IMAGE = { size: 32, channels: 3, classes: 4, patch: 6 } as const;
export const TABULAR = { features: 10, classes: 3, relevant: [0, 1, 2, 3] } as const;

export interface ImageSample {
  readonly pixels: Float32Array; // [32, 32, 3]
  readonly label: number;
  /** 1 on the relevant (red square) pixels, [32, 32]. */
  readonly relevant: Uint8Array;
}

/** One image: the red square in quadrant `label`, the distractor in another. */
export function makeImage(rng: Rng, label: number): ImageSample {
  const { size: s, channels: c, patch: p } = IMAGE;
  const pixels = new Float32Array(s * s * c);
  for (let i = 0; i < pixels.length; i++) pixels[i] = rng.next() * 0.3;
  const relevant = new Uint8Array(s * s);
  const place = (q: number): [number, number] => {
    const half = s / 2;
    const r0 = (q >> 1) * half + 2 + rng.int(half - p - 3);
    const c0 = (q & 1) * half + 2 + rng.int(half - p - 3);
    return [r0, c0];
  };
  const paint = (r0: number, c0: number, rgb: readonly number[], mark: boolean) => {
    for (let r = r0; r < r0 + p; r++)
      for (let col = c0; col < c0 + p; col++) {
        for (let k = 0; k < c; k++) pixels[(r * s + col) * c + k] = rgb[k]! * (0.85 + 0.15 * rng.next());
        if (mark) relevant[r * s + col] = 1;
      }
  };
  const [r0, c0] = place(label);
  paint(r0, c0, [0.95, 0.1, 0.1], true);
  const other = (label + 1 + rng.int(IMAGE.classes - 1)) % IMAGE.classes;
  const [r1, c1] = place(other);
  paint(r1, c1, [0.1, 0.9, 0.15], false);
  return { pixels, label, relevant };
}

export function imageDataset(n: number, seed: number): ImageSample[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, (_, i) => makeImage(rng, i % IMAGE.classes));
}

export interface TabularSample {
  readonly x: Float32Array;
  readonly label: number;
}

export function tabularLabel(x: ArrayLike<number>): number {
  const l = [x[0]! + x[1]!, x[2]! - x[3]!, 0.5 - 0.5 * (x[0]! + x[3]!)];
  return l.indexOf(Math.max(...l));
}

export function tabularDataset(n: number, seed: number): TabularSample[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => {
    const x = new Float32Array(TABULAR.features);
    for (let i = 0; i < x.length; i++) x[i] = rng.normal();
    return { x, label: tabularLabel(x) };
  });
}

/**
 * Text (16 tokens, 2 classes): a review of 5–16 words; one or two sentiment words decide the class
 * (1 positive, 0 negative), the rest are neutral fillers. PAD (id 0) fills the rest. Relevant tokens:
 * the sentiment words.
 */
export const TEXT = {
  length: 16,
  positive: ['great', 'excellent', 'wonderful', 'superb', 'loved', 'brilliant'],
  negative: ['awful', 'boring', 'terrible', 'dull', 'hated', 'weak'],
  fillers: ['the', 'a', 'movie', 'film', 'plot', 'actors', 'was', 'and', 'it', 'story', 'very', 'quite', 'ending', 'music', 'scenes', 'cast', 'director', 'script', 'of', 'this', 'with', 'long', 'part', 'second', 'i', 'found', 'its', 'some', 'characters', 'dialogue'],
} as const;

/** The demo text model's vocabulary, id = index: <pad>, <unk>, sentiment words, fillers. */
export const TEXT_VOCAB: readonly string[] = ['<pad>', '<unk>', ...TEXT.positive, ...TEXT.negative, ...TEXT.fillers];

export interface TextSample {
  readonly words: string[];
  /** Token ids, padded to TEXT.length with 0. */
  readonly ids: number[];
  readonly label: number;
  /** 1 on the sentiment words, [TEXT.length]. */
  readonly relevant: Uint8Array;
}

export function makeText(rng: Rng, label: number): TextSample {
  const len = 5 + rng.int(TEXT.length - 4);
  const words: string[] = Array.from({ length: len }, () => TEXT.fillers[rng.int(TEXT.fillers.length)]!);
  const pool: readonly string[] = label === 1 ? TEXT.positive : TEXT.negative;
  const relevant = new Uint8Array(TEXT.length);
  const count = 1 + rng.int(2);
  for (let k = 0; k < count; k++) {
    const at = rng.int(len);
    words[at] = pool[rng.int(pool.length)]!;
    relevant[at] = 1;
  }
  const ids = words.map((w) => TEXT_VOCAB.indexOf(w));
  while (ids.length < TEXT.length) ids.push(0);
  return { words, ids, label, relevant };
}

export function textDataset(n: number, seed: number): TextSample[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, (_, i) => makeText(rng, i % 2));
}
