// K-FAC and EK-FAC approximations of the Gauss–Newton Hessian of the training objective, layer by
// layer, and their inverse–vector products (George et al. 2018; Grosse et al. 2023, Kronfluence).
import { assertHostAllocation } from '../core/assert.js';
import type { Budget } from '../core/budget.js';
import { CapabilityError, InvalidArgumentError } from '../core/errors.js';
import { symmetricEigen } from './internal/dense.js';
import type { LossName } from './loss.js';
import type { DenseLayer } from './onnx/dense-layers.js';
import type { OnnxTrainingModel } from './onnx/training-model.js';
import { asRows, type TrainingSet } from './rows.js';
import { gradientBatchRows } from './gradients.js';

export type KroneckerKind = 'kfac' | 'ekfac';

interface LayerBasis {
  readonly layer: DenseLayer;
  readonly inDim: number;
  readonly outDim: number;
  /** Eigenvectors (columns) of A [inDim²] and S [outDim²]. */
  readonly qa: Float64Array;
  readonly qs: Float64Array;
  /** Eigenvalues in the Kronecker eigenbasis, [outDim × inDim]. */
  readonly values: Float64Array;
}

/**
 * For each output row, the output cotangents whose weighted outer products give the loss Hessian in
 * z: cross-entropy, p − e_y with weight p_y for every class y (Σ_y p_y (p − e_y)(p − e_y)ᵀ = diag(p) − ppᵀ);
 * MSE, e_c with weight 2/units.
 */
function curvatureCotangents(loss: LossName, z: Float64Array, rows: number, units: number): { cots: Float64Array[]; weights: Float64Array[] } {
  const cots: Float64Array[] = [];
  const weights: Float64Array[] = [];
  for (let y = 0; y < units; y++) {
    const cot = new Float64Array(rows * units);
    const w = new Float64Array(rows);
    for (let i = 0; i < rows; i++) {
      if (loss === 'mse') {
        cot[i * units + y] = 1;
        w[i] = 2 / units;
        continue;
      }
      let max = -Infinity;
      for (let c = 0; c < units; c++) max = Math.max(max, z[i * units + c]!);
      let s = 0;
      for (let c = 0; c < units; c++) s += Math.exp(z[i * units + c]! - max);
      for (let c = 0; c < units; c++) cot[i * units + c] = Math.exp(z[i * units + c]! - max) / s - (c === y ? 1 : 0);
      w[i] = Math.exp(z[i * units + y]! - max) / s;
    }
    cots.push(cot);
    weights.push(w);
  }
  return { cots, weights };
}

/** Row r of layer input a = [α·x, β] (the bias column last when the layer has one). */
function inputRow(l: DenseLayer, x: Float64Array, row: number, inn: number, inDim: number): Float64Array {
  const a = new Float64Array(inDim);
  for (let k = 0; k < inn; k++) a[k] = l.alpha * x[row * inn + k]!;
  if (inDim > inn) a[inn] = l.beta;
  return a;
}

/**
 * A block-diagonal (per dense layer) Kronecker-factored approximation of the Gauss–Newton Hessian
 * G = (1/n) Σ_i J_iᵀ Λ_i J_i: G_l ≈ A_l ⊗ S_l with A = E[a aᵀ] (layer inputs, bias column appended) and
 * S = E[Σ_y w_y g_y g_yᵀ] (output cotangents of the loss curvature). EK-FAC replaces the Kronecker
 * eigenvalues by E[(Q_Sᵀ G_i Q_A)²], fitted to the per-example pseudo-gradients. `solve(v)` applies
 * (G̃ + (λ + δ)I)⁻¹ exactly in the eigenbasis.
 *
 * Cost: two passes over the training set (the second for EK-FAC only), each one forward and C
 * backward runs per batch (C output units); eigen-decompositions of in² and out² per layer.
 * Memory: Σ_l in² + out² + in·out. Layers with a single shared bias value are refused.
 * @see Grosse et al. (2023), https://arxiv.org/abs/2308.03296
 */
export async function kroneckerHessian(model: OnnxTrainingModel, train: TrainingSet, loss: LossName, kind: KroneckerKind, opts: { readonly budget?: Budget; readonly batchSize?: number } = {}): Promise<(v: Float64Array, shift: number) => Float64Array> {
  for (const l of model.layers) if (l.biasSize === 1 && l.units > 1) throw new CapabilityError(`Layer '${l.node}' adds one bias value to all ${l.units} units; K-FAC needs a bias per unit`, { layer: l.node });
  const source = asRows(train);
  const n = source.n;
  const units = model.units;
  const rows = gradientBatchRows(model.parameterCount, n, opts.batchSize);
  const dims = model.layers.map((l) => {
    const inn = l.outFirst ? l.weightDims[1] : l.weightDims[0];
    return { inn, inDim: inn + (l.biasSize > 0 ? 1 : 0), outDim: l.units };
  });
  // the factors (in² + out² per layer, and their eigenvectors) are refused before any is allocated
  assertHostAllocation(dims.reduce((a, d) => a + d.inDim * d.inDim + d.outDim * d.outDim, 0), 'hessian', 'kroneckerHessian');
  /** Calls `each(layer k, row i, positions' inputs, per-cotangent output cotangents, weights)` over the set. */
  const sweep = async (phase: string, each: (k: number, a: Float64Array[], g: Float64Array[][], w: number[]) => void): Promise<void> => {
    for (let start = 0; start < n; start += rows) {
      const m = Math.min(rows, n - start);
      await opts.budget?.checkpoint(m, phase);
      const { x } = await source.read(start, start + m);
      let weights: Float64Array[] = [];
      const f = await model.layerFactors(x, m, (z) => {
        const c = curvatureCotangents(loss, z, m, units);
        weights = c.weights;
        return c.cots;
      });
      model.layers.forEach((l, k) => {
        const { inn, inDim, outDim } = dims[k]!;
        const positions = f.inputs[k]!.length / (m * inn);
        for (let i = 0; i < m; i++) {
          const a = Array.from({ length: positions }, (_, p) => inputRow(l, f.inputs[k]!, i * positions + p, inn, inDim));
          const g = f.cotangents.map((per) => Array.from({ length: positions }, (_, p) => per[k]!.subarray((i * positions + p) * outDim, (i * positions + p + 1) * outDim)));
          each(k, a, g, weights.map((w) => w[i]!));
        }
      });
    }
  };
  const aF = dims.map((d) => new Float64Array(d.inDim * d.inDim));
  const sF = dims.map((d) => new Float64Array(d.outDim * d.outDim));
  const outer = (into: Float64Array, v: ArrayLike<number>, w: number) => {
    const d = v.length;
    for (let r = 0; r < d; r++) {
      const vr = w * v[r]!;
      if (vr !== 0) for (let c = 0; c < d; c++) into[r * d + c]! += vr * v[c]!;
    }
  };
  await sweep('K-FAC factors', (k, a, g, w) => {
    const positions = a.length;
    for (const ap of a) outer(aF[k]!, ap, 1 / (n * positions));
    g.forEach((gy, y) => gy.forEach((gp) => outer(sF[k]!, gp, w[y]! / n)));
  });
  const bases: LayerBasis[] = model.layers.map((layer, k) => {
    const { inDim, outDim } = dims[k]!;
    const ea = symmetricEigen(aF[k]!, inDim);
    const es = symmetricEigen(sF[k]!, outDim);
    const values = new Float64Array(outDim * inDim);
    for (let o = 0; o < outDim; o++) for (let q = 0; q < inDim; q++) values[o * inDim + q] = Math.max(0, es.values[o]!) * Math.max(0, ea.values[q]!);
    return { layer, inDim, outDim, qa: ea.vectors, qs: es.vectors, values };
  });
  if (kind === 'ekfac') {
    for (const b of bases) b.values.fill(0);
    await sweep('EK-FAC eigenvalues', (k, a, g, w) => {
      const b = bases[k]!;
      const { inDim, outDim } = b;
      // project each position's factors into the eigenbases, then G̃ = Σ_m (Q_Sᵀg_m)(Q_Aᵀa_m)ᵀ
      const pa = a.map((ap) => rotate(b.qa, inDim, ap));
      g.forEach((gy, y) => {
        const gt = new Float64Array(outDim * inDim);
        gy.forEach((gp, p) => {
          const ps = rotate(b.qs, outDim, gp);
          for (let o = 0; o < outDim; o++) for (let q = 0; q < inDim; q++) gt[o * inDim + q]! += ps[o]! * pa[p]![q]!;
        });
        for (let e = 0; e < gt.length; e++) b.values[e]! += (w[y]! * gt[e]! ** 2) / n;
      });
    });
  }
  return (v, shift) => {
    const out = new Float64Array(v.length);
    for (const b of bases) {
      const { layer: l, inDim, outDim } = b;
      const inn = dims[model.layers.indexOf(l)]!.inn;
      const at = (o: number, q: number) => (q === inn ? l.biasOffset + o : l.outFirst ? l.weightOffset + o * inn + q : l.weightOffset + q * outDim + o);
      // Ṽ = Q_Sᵀ V Q_A, divided by the eigenvalues + shift, mapped back by Q_S Ṽ Q_Aᵀ
      const vm = new Float64Array(outDim * inDim);
      for (let o = 0; o < outDim; o++) for (let q = 0; q < inDim; q++) vm[o * inDim + q] = v[at(o, q)]!;
      const t = sandwich(b.qs, outDim, vm, b.qa, inDim, true);
      for (let e = 0; e < t.length; e++) {
        const d = b.values[e]! + shift;
        if (!(d > 0)) throw new InvalidArgumentError(`The ${kind.toUpperCase()} Hessian of layer '${l.node}' has a zero eigenvalue; give l2 or damping > 0`, { layer: l.node, kind });
        t[e] = t[e]! / d;
      }
      const back = sandwich(b.qs, outDim, t, b.qa, inDim, false);
      for (let o = 0; o < outDim; o++) for (let q = 0; q < inDim; q++) out[at(o, q)] = back[o * inDim + q]!;
    }
    return out;
  };
}

/** Qᵀv for Q [d×d] with eigenvectors in columns. */
function rotate(q: Float64Array, d: number, v: ArrayLike<number>): Float64Array {
  const out = new Float64Array(d);
  for (let r = 0; r < d; r++) {
    const vr = v[r]!;
    if (vr !== 0) for (let c = 0; c < d; c++) out[c]! += q[r * d + c]! * vr;
  }
  return out;
}

/** Q_Sᵀ M Q_A (`into`: true) or Q_S M Q_Aᵀ (false), M [out × in]. */
function sandwich(qs: Float64Array, out: number, m: Float64Array, qa: Float64Array, inn: number, into: boolean): Float64Array {
  const left = new Float64Array(out * inn);
  for (let o = 0; o < out; o++) {
    for (let r = 0; r < out; r++) {
      const s = into ? qs[r * out + o]! : qs[o * out + r]!;
      if (s !== 0) for (let q = 0; q < inn; q++) left[o * inn + q]! += s * m[r * inn + q]!;
    }
  }
  const res = new Float64Array(out * inn);
  for (let o = 0; o < out; o++) {
    for (let q = 0; q < inn; q++) {
      let s = 0;
      for (let r = 0; r < inn; r++) s += left[o * inn + r]! * (into ? qa[r * inn + q]! : qa[q * inn + r]!);
      res[o * inn + q] = s;
    }
  }
  return res;
}
