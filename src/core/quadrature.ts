import { assertOneOf, assertPositiveInt } from './assert.js';
import { InvalidArgumentError } from './errors.js';

/**
 * Integration rules on [0, 1] for path methods. Names map to Captum's `method` argument:
 * `riemann-left|right|middle` = `riemann_left|right|middle`, `gauss-legendre` = `gausslegendre`.
 *
 * `trapezoid` is the textbook composite trapezoid rule on `linspace(0, 1, n)` (spacing 1/(n−1), end
 * weights halved): its weights sum to 1, so it integrates constants exactly. Captum's
 * `riemann_trapezoid` uses the same nodes but step 1/n, so its weights sum to 1 − 1/n and its
 * attributions are ours × (n−1)/n; `trapezoid-captum` reproduces that rule for bit-comparability.
 */
export type QuadratureRule =
  | 'riemann-left'
  | 'riemann-right'
  | 'riemann-middle'
  | 'trapezoid'
  | 'trapezoid-captum'
  | 'gauss-legendre';

export const QUADRATURE_RULES: readonly QuadratureRule[] = [
  'riemann-left',
  'riemann-right',
  'riemann-middle',
  'trapezoid',
  'trapezoid-captum',
  'gauss-legendre',
];

export interface Quadrature {
  /** Points α_k in [0, 1] (float64). */
  readonly nodes: Float64Array;
  /** Weights w_k (float64). */
  readonly weights: Float64Array;
}

export function quadrature(rule: QuadratureRule, n: number): Quadrature {
  if (!Number.isInteger(n) || n < 1) {
    throw new InvalidArgumentError(`Argument 'steps' passed to 'quadrature' must be a positive integer, got ${n}`, {
      arg: 'steps',
      value: n,
    });
  }
  const nodes = new Float64Array(n);
  const weights = new Float64Array(n);
  switch (rule) {
    case 'riemann-left':
      for (let k = 0; k < n; k++) (nodes[k] = linspace(0, 1 - 1 / n, n, k)), (weights[k] = 1 / n);
      break;
    case 'riemann-right':
      for (let k = 0; k < n; k++) (nodes[k] = linspace(1 / n, 1, n, k)), (weights[k] = 1 / n);
      break;
    case 'riemann-middle':
      for (let k = 0; k < n; k++) (nodes[k] = linspace(1 / (2 * n), 1 - 1 / (2 * n), n, k)), (weights[k] = 1 / n);
      break;
    case 'trapezoid':
    case 'trapezoid-captum': {
      if (n < 2) {
        throw new InvalidArgumentError(`The '${rule}' rule needs steps ≥ 2 (both end points), got ${n}`, {
          arg: 'steps',
          value: n,
        });
      }
      const h = rule === 'trapezoid' ? 1 / (n - 1) : 1 / n;
      for (let k = 0; k < n; k++) {
        nodes[k] = linspace(0, 1, n, k);
        weights[k] = k === 0 || k === n - 1 ? h / 2 : h;
      }
      break;
    }
    case 'gauss-legendre': {
      const { x, w } = gaussLegendre(n);
      for (let k = 0; k < n; k++) (nodes[k] = (1 + x[k]!) / 2), (weights[k] = w[k]! / 2);
      break;
    }
    default:
      throw new InvalidArgumentError(
        `Argument 'rule' must be one of ${QUADRATURE_RULES.join(', ')}, got ${JSON.stringify(rule)}`,
        { arg: 'rule', value: rule, allowed: QUADRATURE_RULES },
      );
  }
  return { nodes, weights };
}

/** numpy.linspace(a, b, n)[k]. */
function linspace(a: number, b: number, n: number, k: number): number {
  if (n === 1) return a;
  const step = (b - a) / (n - 1);
  return k === n - 1 ? b : a + k * step;
}

/** Gauss–Legendre nodes (ascending) and weights on [−1, 1] by Newton's method on P_n. */
export function gaussLegendre(n: number): { x: Float64Array; w: Float64Array } {
  const x = new Float64Array(n);
  const w = new Float64Array(n);
  for (let i = 0; i < Math.ceil(n / 2); i++) {
    let z = Math.cos((Math.PI * (i + 0.75)) / (n + 0.5));
    for (let iter = 0; iter < 100; iter++) {
      const { p, dp } = legendre(n, z);
      const dz = p / dp;
      z -= dz;
      if (Math.abs(dz) < 1e-16) break;
    }
    const { dp } = legendre(n, z);
    const wi = 2 / ((1 - z * z) * dp * dp);
    x[i] = -z;
    x[n - 1 - i] = z;
    w[i] = wi;
    w[n - 1 - i] = wi;
  }
  if (n % 2 === 1) x[(n - 1) / 2] = 0;
  return { x, w };
}

/** P_n(z) and P_n'(z) by the three-term recurrence. */
function legendre(n: number, z: number): { p: number; dp: number } {
  let p0 = 1;
  let p1 = z;
  for (let k = 2; k <= n; k++) {
    const p2 = ((2 * k - 1) * z * p1 - (k - 1) * p0) / k;
    p0 = p1;
    p1 = p2;
  }
  const p = n === 1 ? z : p1;
  const pPrev = n === 1 ? 1 : p0;
  return { p, dp: (n * (z * p - pPrev)) / (z * z - 1) };
}

/** Most quadrature nodes a path method takes (beyond this float32 gradients gain nothing). */
export const MAX_STEPS = 100_000;
/** Most Gauss–Legendre nodes: they are found in O(steps²) time (2048 nodes take ≈ 0.15 s). */
export const MAX_GAUSS_LEGENDRE_STEPS = 2048;

/**
 * Refuses `steps` above {@link MAX_STEPS} (or {@link MAX_GAUSS_LEGENDRE_STEPS} for `gauss-legendre`)
 * before any node is computed or any array allocated.
 *
 * @throws {InvalidArgumentError} `invalid_argument` with `details.max`.
 */
export function assertStepsWithinCap(steps: number, rule: QuadratureRule, fn: string): void {
  const max = rule === 'gauss-legendre' ? MAX_GAUSS_LEGENDRE_STEPS : MAX_STEPS;
  if (steps > max) {
    throw new InvalidArgumentError(
      `Argument 'steps' passed to '${fn}' must be at most ${max} for rule '${rule}', got ${steps}${rule === 'gauss-legendre' ? ` (use rule 'riemann-middle' or 'trapezoid' for up to ${MAX_STEPS})` : ''}`,
      { arg: 'steps', fn, value: steps, max, rule },
    );
  }
}

/**
 * The validated `steps` and `rule` of a path method (`defaults`: the method's declared ones), and the
 * quadrature at `steps + extra` nodes (LayerConductance evaluates its rule at steps + 1 points).
 */
export function pathSchedule(
  opts: { readonly steps?: number; readonly rule?: QuadratureRule } | undefined,
  defaults: { readonly steps: number; readonly rule: QuadratureRule },
  fn: string,
  extra = 0,
): { steps: number; rule: QuadratureRule } & Quadrature {
  const steps = opts?.steps ?? defaults.steps;
  const rule = opts?.rule ?? defaults.rule;
  assertPositiveInt(steps, 'steps', fn);
  assertOneOf(rule, QUADRATURE_RULES, 'rule', fn);
  assertStepsWithinCap(steps, rule, fn);
  return { steps, rule, ...quadrature(rule, steps + extra) };
}

/** Uniform pilot cells of the `adaptive` rule for `steps` gradient nodes: ⌈steps / 2⌉, at least 8. */
export function adaptivePilotCells(steps: number): number {
  return Math.max(8, Math.ceil(steps / 2));
}

/** Share of the `adaptive` rule's nodes spread uniformly whatever the pilot says. */
const ADAPTIVE_FLOOR = 0.25;

/**
 * The `adaptive` rule's nodes for one path: a midpoint rule on `steps` bins whose widths follow the
 * path's roughness, read from `pilot` = F(α_i) at the P + 1 uniform points α_i = i/P. Cell i's slope
 * s_i = P (F_{i+1} − F_i) is the mean of the integrand dF/dα there; its variation v_i (mean jump
 * of the slope to the neighbouring cells) measures how fast the integrand moves. Each cell gets
 * the share (1 − f) √v_i / Σ√v + f / P of the bins (f = 1/4 keeps every region sampled), the bins
 * are the equal shares of that piecewise-uniform density, and each bin's node is its midpoint with
 * its width as weight (weights sum to 1). The square root is a measured choice between uniform
 * nodes (power 0) and nodes in proportion to the roughness (power 1): on the kinked paths of
 * MobileNetV3 (docs/methods.md) it gave the smallest attribution error of the two powers tried, and
 * the floor keeps the rule from starving smooth stretches. A straight path (all v = 0) gives the
 * uniform midpoint rule.
 *
 * @throws {InvalidArgumentError} for `steps` not a positive integer or a pilot of fewer than 2 values.
 */
export function adaptiveNodes(pilot: ArrayLike<number>, steps: number): Quadrature {
  assertPositiveInt(steps, 'steps', 'adaptiveNodes');
  if (pilot.length < 2) throw new InvalidArgumentError(`Argument 'pilot' passed to 'adaptiveNodes' must hold F at P + 1 ≥ 2 uniform points of the path, got ${pilot.length}`, { arg: 'pilot', fn: 'adaptiveNodes', value: pilot.length });
  const P = pilot.length - 1;
  const slope = Float64Array.from({ length: P }, (_, i) => P * (pilot[i + 1]! - pilot[i]!));
  const root = slope.map((s, i) => {
    const left = Math.abs(s - slope[Math.max(0, i - 1)]!);
    const right = Math.abs(slope[Math.min(P - 1, i + 1)]! - s);
    return Math.sqrt((left + right) / 2);
  });
  const total = root.reduce((a, b) => a + b, 0);
  const finite = Number.isFinite(total) && total > 0;
  const mass = root.map((r) => (finite ? ((1 - ADAPTIVE_FLOOR) * r) / total + ADAPTIVE_FLOOR / P : 1 / P));
  // bin edges: the inverse of the piecewise-linear cumulative mass at k / steps
  const edges = new Float64Array(steps + 1);
  let cell = 0;
  let below = 0; // cumulative mass before `cell`
  for (let k = 1; k < steps; k++) {
    const m = k / steps;
    while (cell < P - 1 && below + mass[cell]! < m) below += mass[cell++]!;
    edges[k] = Math.min(1, (cell + Math.min(1, (m - below) / mass[cell]!)) / P);
  }
  edges[steps] = 1;
  const nodes = new Float64Array(steps);
  const weights = new Float64Array(steps);
  for (let k = 0; k < steps; k++) {
    nodes[k] = (edges[k]! + edges[k + 1]!) / 2;
    weights[k] = edges[k + 1]! - edges[k]!;
  }
  return { nodes, weights };
}
