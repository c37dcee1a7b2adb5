import { InvalidArgumentError } from '../../core/errors.js';
import { Rng } from '../../core/random.js';

/**
 * Quasi-Monte-Carlo points from a Sobol sequence (Sobol 1967; Bratley & Fox 1988), base 2, 32-bit.
 * Dimension 0 is van der Corput's sequence; dimension j ≥ 1 uses the j-th primitive polynomial over
 * GF(2) (in order of degree, enumerated here, so any number of dimensions works without a table)
 * with initial direction numbers m_k odd and < 2^k drawn from a fixed generator: every dimension is a
 * (0, 1)-sequence and the points are a digital net, but the direction numbers are not Joe & Kuo's
 * optimised ones. `scramble` applies a random digital shift (XOR of each coordinate with a seeded
 * 32-bit word), which keeps the net structure and makes estimates unbiased.
 */
export class SobolSequence {
  private readonly directions: Uint32Array[];
  private readonly shift: Uint32Array;
  private readonly x: Uint32Array;
  private index = 0;

  constructor(
    readonly dims: number,
    opts: { readonly scramble?: boolean; readonly seed?: number } = {},
  ) {
    if (!Number.isInteger(dims) || dims < 1 || dims > 4000) {
      throw new InvalidArgumentError(`Argument 'dims' passed to 'SobolSequence' must be an integer in [1, 4000], got ${dims}`, { arg: 'dims', value: dims });
    }
    const polys = primitivePolynomials(dims - 1);
    const init = new Rng(0x5eed);
    this.directions = [];
    for (let j = 0; j < dims; j++) {
      const v = new Uint32Array(32);
      if (j === 0) {
        for (let k = 0; k < 32; k++) v[k] = 2 ** (31 - k);
      } else {
        const p = polys[j - 1]!;
        const s = degree(p);
        const m = new Array<number>(33);
        for (let k = 1; k <= s; k++) m[k] = 2 * init.int(2 ** (k - 1)) + 1; // odd, < 2^k
        for (let k = s + 1; k <= 32; k++) {
          // m_k = 2a₁m_{k−1} ⊕ 2²a₂m_{k−2} ⊕ … ⊕ 2^s m_{k−s} ⊕ m_{k−s}
          let mk = m[k - s]! ^ (m[k - s]! * 2 ** s);
          for (let i = 1; i < s; i++) if ((p >> (s - i)) & 1) mk ^= m[k - i]! * 2 ** i;
          m[k] = mk >>> 0;
        }
        for (let k = 1; k <= 32; k++) v[k - 1] = Number((BigInt(m[k]!) << BigInt(32 - k)) & 0xffffffffn);
      }
      this.directions.push(v);
    }
    const shift = new Rng(opts.seed ?? 0);
    this.shift = Uint32Array.from({ length: dims }, () => (opts.scramble ? shift.nextUint32() : 0));
    this.x = new Uint32Array(dims);
  }

  /** The next point, in [0, 1)^dims (the first unscrambled point is the origin). */
  next(out = new Float64Array(this.dims)): Float64Array {
    if (this.index > 0) {
      // Gray-code order: flip the direction of the lowest zero bit of index − 1
      let c = 0;
      let n = this.index - 1;
      while (n & 1) (n >>>= 1), c++;
      for (let j = 0; j < this.dims; j++) this.x[j] = (this.x[j]! ^ this.directions[j]![c]!) >>> 0;
    }
    this.index++;
    for (let j = 0; j < this.dims; j++) out[j] = ((this.x[j]! ^ this.shift[j]!) >>> 0) / 2 ** 32;
    return out;
  }
}

const degree = (p: number): number => 31 - Math.clz32(p);

/** The first `count` primitive polynomials over GF(2) of degree ≥ 1, as bit masks (x^s + … + 1), by degree. */
export function primitivePolynomials(count: number): number[] {
  const out: number[] = [];
  for (let s = 1; out.length < count; s++) {
    if (s > 15) throw new InvalidArgumentError(`'primitivePolynomials' supports up to degree 15 (${count} polynomials asked)`, { count });
    for (let p = (1 << s) | 1; p < 1 << (s + 1) && out.length < count; p += 2) if (isPrimitive(p, s)) out.push(p);
  }
  return out;
}

/** x has order 2^s − 1 modulo p (p of degree s with constant term 1). */
function isPrimitive(p: number, s: number): boolean {
  const order = 2 ** s - 1;
  if (powX(order, p, s) !== 1) return false;
  for (const q of primeFactors(order)) if (powX(order / q, p, s) === 1) return false;
  return true;
}

/** x^e mod p over GF(2). */
function powX(e: number, p: number, s: number): number {
  let result = 1;
  let base = reduce(2, p, s);
  while (e > 0) {
    if (e & 1) result = mulMod(result, base, p, s);
    base = mulMod(base, base, p, s);
    e = Math.floor(e / 2);
  }
  return result;
}

function mulMod(a: number, b: number, p: number, s: number): number {
  let r = 0;
  for (let i = 0; i < s; i++) if ((b >> i) & 1) r ^= a << i;
  return reduce(r, p, s);
}

function reduce(r: number, p: number, s: number): number {
  for (let i = 2 * s; i >= s; i--) if ((r >> i) & 1) r ^= p << (i - s);
  return r;
}

function primeFactors(n: number): number[] {
  const out: number[] = [];
  for (let f = 2; f * f <= n; f++) {
    if (n % f === 0) {
      out.push(f);
      while (n % f === 0) n /= f;
    }
  }
  if (n > 1) out.push(n);
  return out;
}
