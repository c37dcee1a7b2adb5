// Reads the training-data attribution reference (test/fixtures/data, see its README).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseNpy } from '../src/io/npy.js';
import type { Examples } from '../src/data/loss.js';
import { leaveOneOutCorrelation, linearDatamodelingScore } from '../src/data/evaluation.js';
import { ROOT } from './reference.js';

export const DATA_DIR = path.join(ROOT, 'test', 'fixtures', 'data');

/** A .npy file of the data reference (`arrays/train-x.npy`, `reference/lr-loo.npy`, …). */
export function dataNpy(file: string): { shape: number[]; data: Float32Array | Int32Array } {
  const t = parseNpy(new Uint8Array(readFileSync(path.join(DATA_DIR, file))), file);
  return { shape: [...t.shape], data: t.data as Float32Array | Int32Array };
}

export const dataModel = (name: 'lr' | 'mlp' | 'lr-mislabel'): Uint8Array => new Uint8Array(readFileSync(path.join(DATA_DIR, 'models', `${name}.onnx`)));

/** The training or test examples (`train-y-mislabel` for the flipped labels). */
export function dataExamples(which: 'train' | 'test' | 'train-mislabel'): Examples & { x: ReturnType<typeof dataNpy>; y: ReturnType<typeof dataNpy> } {
  const x = dataNpy(`arrays/${which === 'test' ? 'test' : 'train'}-x.npy`);
  const y = dataNpy(`arrays/${which === 'test' ? 'test-y' : which === 'train' ? 'train-y' : 'train-y-mislabel'}.npy`);
  return { x, y };
}

/** The wine training and test sets (128 and 50 examples). */
export const wine = { train: dataExamples('train'), test: dataExamples('test') };

/** LDS of a [50 × 128] score matrix against the retrained losses of the LR or the MLP. */
export const wineLds = (scores: ArrayLike<number>, model: 'lr' | 'mlp'): number =>
  linearDatamodelingScore(scores, 50, 128, dataNpy('reference/lds-subsets.npy').data, dataNpy(`reference/${model}-lds-loss.npy`).data).lds;

/** Agreement of a [50 × 128] score matrix with the LR's leave-one-out retraining. */
export const wineLoo = (scores: ArrayLike<number>) => leaveOneOutCorrelation(scores, dataNpy('reference/lr-loo.npy').data, 50, 128);
