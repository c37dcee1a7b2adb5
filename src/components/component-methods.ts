// The component methods by id (what `attrib components --method` chooses from).
import type { HookedTransformer } from '../models/transformer/hooked-transformer.js';
import { activationPatching } from './activation-patching.js';
import { atpStar } from './atp-star.js';
import { attributionPatching } from './attribution-patching.js';
import { directLogitAttribution, logitLens } from './logit-attribution.js';
import type { NodeAttribution } from './node-attribution.js';
import type { ComponentOptions } from './nodes.js';

export const COMPONENT_METHODS = {
  'activation-patching': activationPatching,
  atp: attributionPatching,
  'atp-star': atpStar,
  'direct-logit-attribution': directLogitAttribution,
  'logit-lens': logitLens,
} as const satisfies Record<string, (model: HookedTransformer, opts: ComponentOptions) => Promise<NodeAttribution>>;

export type ComponentMethodId = keyof typeof COMPONENT_METHODS;
export const COMPONENT_METHOD_IDS = Object.keys(COMPONENT_METHODS) as ComponentMethodId[];
/** Methods that compare a clean and a corrupt run (need corrupt tokens). */
export const NEEDS_CORRUPT: ReadonlySet<ComponentMethodId> = new Set(['activation-patching', 'atp', 'atp-star']);
