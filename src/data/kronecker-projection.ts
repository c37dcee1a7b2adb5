// LoGra-style Kronecker-factored projection of per-example gradients, layer by layer.
import { InvalidArgumentError } from '../core/errors.js';
import { Rng } from '../core/random.js';
import type { DenseLayer } from './onnx/dense-layers.js';

interface LayerFactors {
  readonly layer: DenseLayer;
  readonly inn: number;
  /** in (+1 with a bias column) and out, and the projected sides. */
  readonly inDim: number;
  readonly outDim: number;
  readonly kIn: number;
  readonly kOut: number;
  /** P_A [kIn × inDim] and P_S [kOut × outDim], row-major, N(0, 1/k) entries. */
  readonly pa: Float64Array;
  readonly ps: Float64Array;
  readonly offset: number;
}

/**
 * Projects each dense layer's per-example gradient G [out × in] (the bias as a last input column
 * [α·x, β]) to P_S G P_Aᵀ [k_out × k_in] with seeded Gaussian factors P_S [k_out × out] and
 * P_A [k_in × in], k = min(`k`, side): the Kronecker projection (P_S ⊗ P_A) vec G of LoGra, a JL map
 * (E‖·‖² preserved) that costs k·(out·in + in·k) per layer instead of k²·out·in and stores only the
 * factors. Features: Σ_layers k_out·k_in. Since G = Σ_m dy_mᵀ a_m, this equals Σ_m (P_S dy_m)(P_A a_m)ᵀ.
 * @see Choe et al. (2024), "What is Your Data Worth to GPT?" (LoGra), https://arxiv.org/abs/2405.13954
 * @throws {InvalidArgumentError} when `k` is not a positive integer, or a layer adds one shared bias value.
 */
export class KroneckerProjection {
  readonly outputDim: number;
  private readonly factors: readonly LayerFactors[];

  constructor(
    layers: readonly DenseLayer[],
    readonly inputDim: number,
    k: number,
    seed = 0,
  ) {
    const fn = 'KroneckerProjection';
    if (!Number.isInteger(k) || k < 1) throw new InvalidArgumentError(`Argument 'projectionDim' passed to '${fn}' must be a positive integer (the projected size of each side of a layer), got ${k}`, { arg: 'projectionDim', fn, value: k });
    let offset = 0;
    this.factors = layers.map((layer, l) => {
      if (layer.biasSize === 1 && layer.units > 1) throw new InvalidArgumentError(`Layer '${layer.node}' adds one bias value to all its units; the Kronecker projection needs a bias per unit`, { layer: layer.node, fn });
      const inn = layer.outFirst ? layer.weightDims[1] : layer.weightDims[0];
      const inDim = inn + (layer.biasSize > 0 ? 1 : 0);
      const outDim = layer.units;
      const [kIn, kOut] = [Math.min(k, inDim), Math.min(k, outDim)];
      const rng = new Rng((Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(l + 1, 0x27d4eb2f)) >>> 0);
      const draw = (rows: number, cols: number) => Float64Array.from({ length: rows * cols }, () => rng.normal() / Math.sqrt(rows));
      const f = { layer, inn, inDim, outDim, kIn, kOut, pa: draw(kIn, inDim), ps: draw(kOut, outDim), offset };
      offset += kIn * kOut;
      return f;
    });
    this.outputDim = offset;
  }

  /** Rows of per-example gradients `x` [rows × p] (θ layout) projected: [rows × outputDim]. */
  project(x: Float64Array, rows: number): Float64Array {
    const p = this.inputDim;
    const out = new Float64Array(rows * this.outputDim);
    for (const f of this.factors) {
      const { layer: l, inn, inDim, outDim, kIn, kOut, pa, ps } = f;
      const t = new Float64Array(outDim * kIn); // G P_Aᵀ
      for (let r = 0; r < rows; r++) {
        const base = r * p;
        t.fill(0);
        for (let o = 0; o < outDim; o++) {
          for (let q = 0; q < inDim; q++) {
            const g = x[base + (q === inn ? l.biasOffset + o : l.outFirst ? l.weightOffset + o * inn + q : l.weightOffset + q * outDim + o)]!;
            if (g === 0) continue;
            for (let a = 0; a < kIn; a++) t[o * kIn + a]! += g * pa[a * inDim + q]!;
          }
        }
        const oo = r * this.outputDim + f.offset;
        for (let s = 0; s < kOut; s++) {
          for (let o = 0; o < outDim; o++) {
            const w = ps[s * outDim + o]!;
            if (w !== 0) for (let a = 0; a < kIn; a++) out[oo + s * kIn + a]! += w * t[o * kIn + a]!;
          }
        }
      }
    }
    return out;
  }
}
