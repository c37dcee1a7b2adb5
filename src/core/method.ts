// The shape of a method's one declaration (`defineMethod`). No method is imported here: each method
// declares its descriptor beside its class, and `src/methods.ts` collects them.
import type { AttributionLike, Baseline, MethodId, RunControl, Target } from './types.js';
import type * as tf from '@tensorflow/tfjs-core';

/** How the CLI and UI read an option's value. */
export type OptionType = 'int' | 'number' | 'enum' | 'int-list' | 'number-list' | 'bool' | 'mask' | 'method';

/** One option of a method, as the CLI and UI present it. `name` is the library option. */
export interface OptionSpec {
  readonly name: string;
  readonly type: OptionType;
  readonly help: string;
  readonly default?: string | number | boolean;
  readonly values?: readonly string[];
}

/** One declared option (its name is its key in `options`), with its typed default when it has one. */
export type OptionDecl =
  | { readonly type: 'int' | 'number'; readonly help: string; readonly default?: number }
  | { readonly type: 'bool'; readonly help: string; readonly default?: boolean }
  | { readonly type: 'enum'; readonly values: readonly string[]; readonly help: string; readonly default?: string }
  | { readonly type: 'int-list' | 'number-list'; readonly help: string; readonly default?: number | readonly number[] }
  | { readonly type: 'mask'; readonly help: string }
  | { readonly type: 'method'; readonly help: string; readonly default?: MethodId };

/** A method's declared options by library name. */
export type OptionDecls = { readonly [name: string]: OptionDecl };

/** The typed defaults of declared options: one entry per option that declares a default. */
export type OptionDefaults<O extends OptionDecls> = {
  readonly [K in keyof O as O[K] extends { readonly default: unknown } ? K : never]: O[K] extends { readonly default: infer D } ? D : never;
};

/** Constructor settings a method may take, from the CLI or UI. */
export interface MethodSettings {
  /** The wrapped method (noise-tunnel). */
  readonly inner?: MethodId;
  /** The layer (hook name) of layer, neuron and CAM methods. */
  readonly layer?: string;
  /** The method's options as given (constructor settings such as LRP's preset are read from here). */
  readonly options?: Readonly<Record<string, unknown>>;
}

/**
 * The options every catalogued method accepts, whatever its own: run control plus the per-call data
 * (layer methods take no target, neuron methods a neuron). A configured method's own options type is
 * assignable to this one, so the catalogue holds every method without casts.
 */
export interface CatalogueOptions extends RunControl {
  readonly target?: Target;
  readonly baselines?: Baseline;
  readonly inputs?: Readonly<Record<string, tf.Tensor>>;
}

/** A configured method as the catalogue sees it (`Attributor` with the catalogue's options). */
export interface CatalogueAttributor {
  readonly id: MethodId;
  cost(shape: readonly number[], opts: CatalogueOptions): number;
  attribute(x: tf.Tensor, opts: CatalogueOptions): Promise<AttributionLike>;
}

/** What a method declares once, beside its class. `M` is the model type its `create` accepts. */
export interface MethodDeclaration<M, O extends OptionDecls> {
  readonly id: MethodId;
  readonly title: string;
  /** `layer`: layer, neuron and CAM methods (a layer setting); `backprop`: modified back-propagation. */
  readonly family: 'gradient' | 'perturbation' | 'layer' | 'backprop' | 'control';
  /** What the model must offer: `hooks` = layer access (TF.js layers models). */
  readonly requires: 'gradients' | 'forward' | 'hooks';
  /** True when the method swaps activations or layers during back-propagation (TF.js layers models only). */
  readonly rules?: true;
  /** Whether the method takes a layer: `required`, or `default` when it can pick one (`defaultLayer`). */
  readonly layer?: 'required' | 'default';
  /** What the method returns: input-shaped (`feature`) or layer-shaped (`layer`). */
  readonly output: 'feature' | 'layer';
  /** Cost in model rows, as a formula (the class's `cost()` computes it, with these defaults). */
  readonly cost: string;
  readonly reference: string;
  readonly stochastic: boolean;
  /** The options, by library name, with their defaults: the CLI flags and the defaults of `cost()` and `attribute()`. */
  readonly options: O;
  /** The layer the method picks on this model when none is given (methods with `layer: 'default'`). */
  defaultLayer?(model: M): string | undefined;
  /**
   * Builds the method for a model with its constructor settings. `lookup` finds other methods by id
   * (noise-tunnel's inner method); the catalogue (`src/methods.ts`) passes it.
   */
  create(model: M, settings?: MethodSettings, lookup?: MethodLookup): CatalogueAttributor;
}

/** Finds a catalogued method by id (`unknown_method` when there is none). */
export type MethodLookup = (id: string) => MethodDescriptor;

/** A method's descriptor: its declaration, the option list the CLI shows, and the typed defaults. */
export interface MethodDescriptor<M = unknown, O extends OptionDecls = OptionDecls> extends Omit<MethodDeclaration<M, O>, 'options'> {
  /** The declared options (typed). */
  readonly declared: O;
  /** The options as the CLI and UI list them, in declaration order. */
  readonly options: readonly OptionSpec[];
  /** The declared defaults, typed: what `cost()` and `attribute()` use for an option not given. */
  readonly defaults: OptionDefaults<O>;
}

/**
 * Declares a method once: id, family, requirements, typed options with defaults, cost and `create`.
 * The CLI flags (`options`), and the defaults `cost()` and `attribute()` read (`defaults`), all come
 * from this one declaration.
 *
 * @example
 * ```ts
 * export const integratedGradients = defineMethod({
 *   id: 'integrated-gradients', family: 'gradient', requires: 'gradients', …,
 *   options: { steps: { type: 'int', help: 'quadrature nodes', default: 50 } },
 *   create: (m: ModelAdapter) => new IntegratedGradients(gradientModel(m, 'IntegratedGradients')),
 * });
 * integratedGradients.defaults.steps; // 50, typed number
 * ```
 */
export function defineMethod<M, const O extends OptionDecls>(decl: MethodDeclaration<M, O>): MethodDescriptor<M, O> {
  const options: OptionSpec[] = Object.entries(decl.options).map(([name, o]) => ({
    name,
    type: o.type,
    ...('values' in o ? { values: o.values } : {}),
    help: o.help,
    ...('default' in o && o.default !== undefined ? { default: typeof o.default === 'object' ? o.default.join(',') : o.default } : {}),
  }));
  const defaults: Record<string, unknown> = {};
  for (const [name, o] of Object.entries(decl.options)) if ('default' in o && o.default !== undefined) defaults[name] = o.default;
  const { options: declared, ...rest } = decl;
  return Object.freeze({ ...rest, declared, options: Object.freeze(options), defaults: Object.freeze(defaults) as OptionDefaults<O> });
}
