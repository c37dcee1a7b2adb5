import type { ModelAdapter } from '../models/model.js';
import { AttributionError } from '../core/errors.js';
import { parseLabels, type ClassLabels } from './labels.js';
import type { ImageLayout, PixelNormalization } from './preprocess.js';

/** What a model's metadata says about its outputs and inputs, each with the key(s) it came from. */
export interface ModelMetadataDefaults {
  /** Class labels by output index. */
  readonly labels?: { readonly labels: ClassLabels; readonly sparse: boolean; readonly key: string };
  /** Per-channel mean and std of pixels in [0, 1] (values written for [0, 255] are divided by 255). */
  readonly normalize?: { readonly value: PixelNormalization; readonly keys: string };
  /** The image layout the model takes. */
  readonly layout?: { readonly value: ImageLayout; readonly key: string };
}

/** Label keys, in the order they are tried (Ultralytics exports write `names`, Hugging Face `id2label`). */
const LABEL_KEYS = ['labels', 'class_labels', 'class_names', 'classes', 'names', 'id2label'];
const NORM_KEYS: readonly (readonly [string, string])[] = [
  ['mean', 'std'],
  ['image_mean', 'image_std'],
  ['norm_mean', 'norm_std'],
];
const LAYOUT_KEYS = ['layout', 'data_format', 'input_layout'];
const LAYOUTS: Readonly<Record<string, ImageLayout>> = { nchw: 'nchw', channels_first: 'nchw', nhwc: 'nhwc', channels_last: 'nhwc' };

/**
 * Class labels, pixel normalisation and image layout from a model's key/value metadata
 * (`ModelAdapter.metadata`: ONNX `metadata_props`, TF.js `userDefinedMetadata`), for callers to use
 * where the user gave none. Labels: a JSON array, a JSON object {index: label}, a Python-style dict
 * `{0: 'person', 1: 'car'}`, one label per line, or a comma-separated list. Normalisation: `mean` and
 * `std` (or `image_mean`/`image_std`) as JSON arrays or comma-separated numbers. A value that does
 * not parse is ignored (metadata is advice, not a contract).
 */
export function modelMetadata(model: Pick<ModelAdapter, 'metadata'>): ModelMetadataDefaults {
  const meta = model.metadata;
  if (!meta) return {};
  const out: { -readonly [K in keyof ModelMetadataDefaults]: ModelMetadataDefaults[K] } = {};
  for (const key of LABEL_KEYS) {
    const value = Object.hasOwn(meta, key) ? meta[key] : undefined;
    const labels = value === undefined ? undefined : labelsOf(value, key);
    if (labels) {
      out.labels = { ...labels, key };
      break;
    }
  }
  for (const [m, s] of NORM_KEYS) {
    const mean = numbers(Object.hasOwn(meta, m) ? meta[m] : undefined);
    const std = numbers(Object.hasOwn(meta, s) ? meta[s] : undefined);
    if (!mean || !std || mean.length !== std.length || (mean.length !== 1 && mean.length !== 3) || std.some((v) => v <= 0)) continue;
    // written for pixels in [0, 255] (e.g. 123.675): attrib's mean/std are for pixels in [0, 1]
    const scale = [...mean, ...std].some((v) => Math.abs(v) > 1) ? 255 : 1;
    out.normalize = { value: { mean: mean.map((v) => v / scale), std: std.map((v) => v / scale) }, keys: `${m}, ${s}` };
    break;
  }
  for (const key of LAYOUT_KEYS) {
    const value = Object.hasOwn(meta, key) ? meta[key]?.trim().toLowerCase() : undefined;
    if (value !== undefined && Object.hasOwn(LAYOUTS, value)) {
      out.layout = { value: LAYOUTS[value]!, key };
      break;
    }
  }
  return out;
}

function labelsOf(value: string, key: string): { labels: ClassLabels; sparse: boolean } | undefined {
  const text = value.trim();
  const source = `in the model's metadata '${key}'`;
  try {
    // a Python dict repr: {0: 'person', 1: "bicycle"}
    if (/^\{\s*\d+\s*:/.test(text) && !isJson(text)) {
      const labels = new Map<number, string>();
      for (const m of text.matchAll(/(\d+)\s*:\s*(['"])((?:(?!\2).)*)\2/g)) labels.set(Number(m[1]), m[3]!);
      return labels.size > 0 ? { labels, sparse: true } : undefined;
    }
    if (!isJson(text) && !text.includes('\n') && text.includes(',')) {
      const parts = text.split(',').map((p) => p.trim());
      if (parts.every((p) => p.length > 0)) return { labels: new Map(parts.map((p, i) => [i, p])), sparse: false };
    }
    return { labels: parseLabels(text, source), sparse: text.startsWith('{') };
  } catch (e) {
    if (e instanceof AttributionError) return undefined;
    throw e;
  }
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** A JSON array of numbers or comma/space-separated numbers, all finite; undefined otherwise. */
function numbers(value: string | undefined): number[] | undefined {
  if (value === undefined || value.length > 10_000) return undefined;
  const text = value.trim();
  let parts: unknown[];
  if (text.startsWith('[')) {
    try {
      const json: unknown = JSON.parse(text);
      if (!Array.isArray(json)) return undefined;
      parts = json;
    } catch {
      return undefined;
    }
  } else parts = text.split(/[\s,]+/).filter((p) => p.length > 0).map(Number);
  return parts.length > 0 && parts.every((p) => typeof p === 'number' && Number.isFinite(p)) ? (parts as number[]) : undefined;
}
