// Each method is declared once: the CLI flags, the option list, `cost()` and the defaults inside
// `attribute()` all come from that declaration.
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../test/backend.js';
import { residualNet, smooth, smoothFn } from '../test/reference-models.js';
import { kebab } from './cli/args.js';
import { methodFlags } from './cli/commands/explain.js';
import { defineMethod, type OptionDecls, type CatalogueOptions } from './core/method.js';
import { defaultLayer, findMethod, layerOf, METHODS } from './methods.js';
import type { LayersModelAdapter } from './models/tfjs/layers-model.js';
import { fromFunction } from './models/tfjs/function-model.js';

beforeAll(() => useBackend('cpu'));

/** A declared default as the CLI shows it (lists comma-joined). */
const shown = (v: unknown): unknown => (Array.isArray(v) ? v.join(',') : v);

/** Options whose value the method's cost depends on. */
const COST_OPTIONS = ['steps', 'samples', 'designs', 'iterations'];
const IMAGE = new Set(['rise', 'extremal-perturbation']);
const featureMethods = METHODS.filter((m) => m.family === 'gradient' || m.family === 'perturbation' || m.family === 'control');
const smoothImage = () => fromFunction((v) => smoothFn(tf.reshape(v, [v.shape[0]!, 4])), { outputShape: [null, 2] });

describe('the one declaration of each method', () => {
  it('the catalogue holds every method once', () => {
    expect(METHODS.length).toBe(38);
    expect(new Set(METHODS.map((m) => m.id)).size).toBe(METHODS.length);
  });

  it.each(METHODS.map((m) => m.id))('%s: option list, typed defaults and CLI flags all read the declaration', (id) => {
    const d = findMethod(id);
    const declared = Object.entries(d.declared);
    expect(d.options.map((o) => o.name)).toEqual(declared.map(([name]) => name));
    const flags = methodFlags(d);
    expect(flags.map((f) => f.name)).toEqual(declared.map(([name]) => kebab(name)));
    for (const [i, [name, decl]] of declared.entries()) {
      const o = d.options[i]!;
      expect(o.type).toBe(decl.type);
      if ('default' in decl && decl.default !== undefined) {
        expect((d.defaults as Record<string, unknown>)[name]).toEqual(decl.default);
        expect(o.default).toEqual(shown(decl.default));
        expect(flags[i]!.default).toEqual(shown(decl.default));
      } else {
        expect(name in d.defaults).toBe(false);
        expect(o.default).toBeUndefined();
        expect(flags[i]!.default).toBeUndefined();
      }
      if ('values' in decl) {
        expect(o.values).toEqual(decl.values);
        if ('default' in decl && decl.default !== undefined) expect(decl.values).toContain(decl.default);
      }
    }
  });

  it('defineMethod derives the list and the typed defaults, and freezes them', () => {
    const options = {
      steps: { type: 'int', help: 'h', default: 7 },
      areas: { type: 'number-list', help: 'h', default: [0.5, 0.25] },
      rule: { type: 'enum', values: ['a', 'b'], help: 'h', default: 'b' },
      mask: { type: 'mask', help: 'h' },
    } as const satisfies OptionDecls;
    const d = defineMethod({ id: 'random', title: 't', family: 'control', requires: 'forward', output: 'feature', cost: '0', reference: 'r', stochastic: false, options, create: () => findMethod('random').create(smooth()) });
    expect(d.defaults).toEqual({ steps: 7, areas: [0.5, 0.25], rule: 'b' });
    expect(d.options).toEqual([
      { name: 'steps', type: 'int', help: 'h', default: 7 },
      { name: 'areas', type: 'number-list', help: 'h', default: '0.5,0.25' },
      { name: 'rule', type: 'enum', help: 'h', values: ['a', 'b'], default: 'b' },
      { name: 'mask', type: 'mask', help: 'h' },
    ]);
    expect(Object.isFrozen(d) && Object.isFrozen(d.defaults) && Object.isFrozen(d.options)).toBe(true);
    const steps: number = d.defaults.steps;
    const rule: 'a' | 'b' = d.defaults.rule;
    expect([steps, rule]).toEqual([7, 'b']);
  });

  describe.each(featureMethods.map((m) => m.id))('%s: cost() and attribute() use the declared defaults', (id) => {
    const d = findMethod(id);
    const shape = IMAGE.has(id) ? [3, 8, 8, 1] : [3, 16];
    const base: CatalogueOptions = { target: 0 };
    const defaults = d.defaults as Record<string, unknown>;

    it('cost() without options equals cost() with the declared defaults, and follows them', () => {
      const method = d.create(IMAGE.has(id) ? smoothImage() : smooth());
      const plain = method.cost(shape, base);
      expect(plain).toBeGreaterThanOrEqual(0);
      expect(method.cost(shape, { ...base, ...defaults })).toBe(plain);
      for (const name of COST_OPTIONS.filter((n) => typeof defaults[n] === 'number')) {
        expect(method.cost(shape, { ...base, [name]: (defaults[name] as number) * 2 })).not.toBe(plain);
      }
    });

    it('attribute() without options equals attribute() with the declared defaults', async () => {
      const X = [
        [0.5, -1.2, 2.0, 0.3],
        [1.5, 0.7, -0.4, -2.2],
      ];
      const image = IMAGE.has(id);
      const x = image ? tf.tensor4d(X.map((r) => [r.slice(0, 2).map((v) => [v]), r.slice(2).map((v) => [v])])) : tf.tensor2d(X);
      const method = d.create(image ? smoothImage() : smooth());
      const fast = id === 'extremal-perturbation' ? { areas: [0.25], iterations: 3 } : {};
      const a = await method.attribute(x, { ...base, ...fast });
      const b = await method.attribute(x, { ...base, ...defaults, ...fast });
      try {
        expect(Array.from(await a.values.data())).toEqual(Array.from(await b.values.data()));
        expect(a.diagnostics.evaluations).toBe(b.diagnostics.evaluations);
      } finally {
        a.dispose();
        b.dispose();
        x.dispose();
      }
    });
  });

  describe('layer methods', () => {
    let net: LayersModelAdapter;
    beforeAll(() => {
      net = residualNet();
    });
    afterAll(() => net.dispose());

    it.each(METHODS.filter((m) => m.family === 'layer' && 'steps' in m.declared).map((m) => m.id))('%s: cost() reads the declared steps', (id) => {
      const d = findMethod(id);
      const method = d.create(net, { layer: 'conv_b' });
      const steps = (d.defaults as Record<string, unknown>)['steps'] as number;
      const plain = method.cost([2, 8, 8, 2], { target: 0 });
      const [same, more] = [{ target: 0, steps }, { target: 0, steps: steps + 1 }];
      expect(method.cost([2, 8, 8, 2], same)).toBe(plain);
      expect(method.cost([2, 8, 8, 2], more)).toBeGreaterThan(plain);
    });

    it('CAM methods pick the last convolutional layer in execution order (proj); others need --layer (invalid_argument listing the layers)', () => {
      for (const id of ['layer-gradcam', 'gradcam-plus-plus', 'layer-cam', 'score-cam', 'guided-gradcam'] as const) {
        expect(findMethod(id).layer).toBe('default');
        expect(defaultLayer(net, id)).toBe('proj');
        expect(layerOf(net, undefined, id)).toBe('proj');
      }
      expect(layerOf(net, { layer: 'bn' }, 'layer-gradcam')).toBe('bn');
      expect(defaultLayer(net, 'layer-integrated-gradients')).toBeUndefined();
      expect(() => layerOf(net, undefined, 'layer-conductance')).toThrowError(expect.objectContaining({ code: 'invalid_argument', details: expect.objectContaining({ layers: net.hookNames }) }));
    });
  });

  it('noise-tunnel finds its inner method in the catalogue, and not itself', () => {
    const m = smooth();
    expect(findMethod('noise-tunnel').create(m, { inner: 'integrated-gradients' }).id).toBe('noise-tunnel');
    expect(() => findMethod('noise-tunnel').create(m, { inner: 'noise-tunnel' })).toThrowError(expect.objectContaining({ code: 'unknown_method' }));
    expect(() => findMethod('noise-tunnel').create(m, { inner: 'nope' as never })).toThrowError(expect.objectContaining({ code: 'unknown_method' }));
  });
});
