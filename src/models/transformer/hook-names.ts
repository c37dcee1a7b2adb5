// TransformerLens's hook names as a type, and builders for them (instead of parsing strings).

type BlockSite = 'resid_pre' | 'resid_mid' | 'resid_post' | 'attn_out' | 'mlp_out';
type AttnSite = 'q' | 'k' | 'v' | 'z' | 'rot_q' | 'rot_k' | 'attn_scores' | 'pattern';
type MlpSite = 'pre' | 'pre_linear' | 'post';
type NormSite = 'scale' | 'normalized';

/** Every hook point a `HookedTransformer` has (which exist depends on the architecture: `hookNames`). */
export type TransformerHookName =
  | 'hook_embed'
  | 'hook_pos_embed'
  | `blocks.${number}.hook_${BlockSite}`
  | `blocks.${number}.attn.hook_${AttnSite}`
  | `blocks.${number}.mlp.hook_${MlpSite}`
  | `blocks.${number}.ln${1 | 2}.hook_${NormSite}`
  | `ln_final.hook_${NormSite}`;

/** Typed hook names: `hook.attn(1, 'z')` → `'blocks.1.attn.hook_z'`. */
export const hook = {
  embed: 'hook_embed',
  posEmbed: 'hook_pos_embed',
  block: (layer: number, site: BlockSite): TransformerHookName => `blocks.${layer}.hook_${site}`,
  resid: (layer: number, at: 'pre' | 'mid' | 'post'): TransformerHookName => `blocks.${layer}.hook_resid_${at}`,
  attn: (layer: number, site: AttnSite): TransformerHookName => `blocks.${layer}.attn.hook_${site}`,
  mlp: (layer: number, site: MlpSite): TransformerHookName => `blocks.${layer}.mlp.hook_${site}`,
  norm: (layer: number | 'final', which: 1 | 2, site: NormSite): TransformerHookName => (layer === 'final' ? `ln_final.hook_${site}` : `blocks.${layer}.ln${which}.hook_${site}`),
} as const;
