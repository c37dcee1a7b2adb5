// The component methods as the catalogue lists them (`attrib methods`): what each scores, what it
// needs, its cost and reference, and its options — the flags of `attrib components`.
import type { OptionSpec } from '../core/method.js';
import type { ComponentMethodId } from './component-methods.js';
import { DIAGNOSTIC_DEFAULTS } from './atp-star-diagnostic.js';
import { DEFAULT_NODE_KINDS, NODE_KINDS } from './nodes.js';

/**
 * A component method's catalogue entry. Unlike the feature methods (`MethodDescriptor`, run on a model
 * adapter by `attrib explain`), these run on a `HookedTransformer` through `attrib components` and
 * return a `NodeAttribution`; `kind: 'component'` tells them apart.
 */
export interface ComponentMethodInfo {
  readonly id: ComponentMethodId;
  readonly kind: 'component';
  readonly title: string;
  readonly family: 'patching' | 'gradient' | 'direct';
  /** What the call needs besides the model. */
  readonly needs: string;
  /** Cost in model rows, as a formula (L = layers). */
  readonly cost: string;
  readonly reference: string;
  readonly stochastic: false;
  /** Options, by library name (the `attrib components` flags are their kebab-case forms). */
  readonly options: readonly OptionSpec[];
}

const nodes: OptionSpec = { name: 'nodes', type: 'enum', values: NODE_KINDS, help: 'node kinds to score, a list (resid: one node per position of hook_resid_pre)', default: DEFAULT_NODE_KINDS.join(',') };
const perPosition: OptionSpec = { name: 'perPosition', type: 'bool', help: 'one node per position instead of one over all positions', default: false };
const CLEAN_CORRUPT = 'clean and corrupt tokens (same length), answer and wrong ids';

/** The component methods, in the order `attrib methods` lists them. */
export const COMPONENT_CATALOGUE: readonly ComponentMethodInfo[] = [
  {
    id: 'activation-patching',
    kind: 'component',
    title: 'Activation patching',
    family: 'patching',
    needs: CLEAN_CORRUPT,
    cost: 'nodes + 2 (patched rows from their layer on, batchSize per run)',
    reference: 'Meng et al. (2022), "Locating and Editing Factual Associations in GPT"; Heimersheim & Nanda (2024), "How to use and interpret activation patching"',
    stochastic: false,
    options: [nodes, perPosition, { name: 'batchSize', type: 'int', help: 'patched runs per forward batch (fewer when maxCacheBytes bounds them)', default: 64 }, { name: 'mode', type: 'enum', values: ['noising', 'denoising'], help: 'patch corrupt values into the clean run, or clean values into the corrupt run (library option)', default: 'noising' }],
  },
  {
    id: 'atp',
    kind: 'component',
    title: 'Attribution patching (AtP)',
    family: 'gradient',
    needs: CLEAN_CORRUPT,
    cost: '2 (one forward, one forward + backward)',
    reference: 'Nanda (2023), "Attribution patching"; Kramár et al. (2024), "AtP*", https://arxiv.org/abs/2403.00745',
    stochastic: false,
    options: [nodes, perPosition],
  },
  {
    id: 'atp-star',
    kind: 'component',
    title: 'AtP* (QK fix + GradDrop)',
    family: 'gradient',
    needs: CLEAN_CORRUPT,
    cost: '2 + L (the L GradDrop backward passes batched in one run)',
    reference: 'Kramár, Lieberum, Shah, Nanda (2024), "AtP*: An efficient and scalable method for localizing LLM behaviour to components", https://arxiv.org/abs/2403.00745',
    stochastic: false,
    options: [
      { ...nodes, values: NODE_KINDS.filter((k) => k !== 'resid'), help: 'node kinds to score, a list' }, perPosition, { name: 'gradDrop', type: 'bool', help: 'average |estimate| over per-block gradient-dropped backward passes (library option)', default: true },
      // the diagnostic of remaining false negatives (atpStarDiagnostic; --diagnose)
      { name: 'diagnose', type: 'bool', help: 'bound the remaining false negatives: verify the top K, subset-sample the rest (+ K + N + 2 rows)', default: false },
      { name: 'verify', type: 'int', help: 'with diagnose: K, nodes verified by activation patching (default 10 % of the nodes)' },
      { name: 'samples', type: 'int', help: 'with diagnose: N random subsets of the unverified nodes', default: DIAGNOSTIC_DEFAULTS.samples },
      { name: 'inclusionProbability', type: 'number', help: 'with diagnose: probability of a node being in a subset', default: DIAGNOSTIC_DEFAULTS.inclusionProbability },
      { name: 'alpha', type: 'number', help: 'with diagnose: family-wise level of the bounds (Bonferroni)', default: DIAGNOSTIC_DEFAULTS.alpha },
      { name: 'correction', type: 'enum', values: ['bonferroni', 'none'], help: 'with diagnose: none bounds θ* alone (tighter)', default: 'bonferroni' },
    ],
  },
  {
    id: 'direct-logit-attribution',
    kind: 'component',
    title: 'Direct logit attribution',
    family: 'direct',
    needs: 'tokens, answer and wrong ids',
    cost: '1',
    reference: 'Elhage et al. (2021), "A Mathematical Framework for Transformer Circuits"',
    stochastic: false,
    options: [],
  },
  {
    id: 'logit-lens',
    kind: 'component',
    title: 'Logit lens',
    family: 'direct',
    needs: 'tokens, answer and wrong ids',
    cost: '1',
    reference: 'nostalgebraist (2020), "interpreting GPT: the logit lens"',
    stochastic: false,
    options: [],
  },
];

/** The catalogue entry of a component method id, or undefined. */
export function findComponentMethod(id: string): ComponentMethodInfo | undefined {
  return COMPONENT_CATALOGUE.find((m) => m.id === id);
}
