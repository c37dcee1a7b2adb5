import { InvalidArgumentError } from '../../core/errors.js';
import type { MethodSettings } from '../../core/method.js';
import type { MethodId } from '../../core/types.js';
import { isHooked, type ModelAdapter } from '../../models/model.js';

/** Picks a method's layer on a model when none is given (`undefined`: no default on this model). */
export type LayerPicker = (model: ModelAdapter) => string | undefined;

/** The Embedding layer that reads the model's token ids (layer-integrated-gradients on text models). */
export const embeddingLayer: LayerPicker = (model) => (isHooked(model) ? model.embeddingOfInput : undefined);

/** The last convolutional layer (as GradCAM's paper and pytorch-grad-cam do), else the last spatial one. */
export const lastSpatialLayer: LayerPicker = (model) => {
  if (!isHooked(model)) return undefined;
  const spatial = [...model.hookNames].reverse().filter((n) => model.hookShape(n).length === 4);
  return spatial.find((n) => /Conv/.test(model.hookClass(n))) ?? spatial[0];
};

/**
 * The layer a method runs on: the `layer` setting, else the method's default (`pick`) where it has
 * one, else an `invalid_argument` error listing the layers.
 */
export function layerFor(model: ModelAdapter, settings: MethodSettings | undefined, id: MethodId, pick?: LayerPicker): string {
  if (settings?.layer !== undefined) return settings.layer;
  const picked = pick?.(model);
  if (picked !== undefined) return picked;
  const names = isHooked(model) ? model.hookNames : [];
  throw new InvalidArgumentError(`Method '${id}' needs a layer (CLI: --layer NAME); layers of model '${model.name}': ${names.join(', ') || '(none: the model cannot be hooked)'}`, {
    arg: 'layer',
    method: id,
    layers: names,
  });
}
