// The entry of attrib's standalone browser bundle (`npm run build` writes dist/browser/attrib.js): the
// library, TF.js (core, layers, the cpu backend) and the heatmap helpers in one ES module, for a page
// served as static files — no attrib server, no bundler. See examples/browser/index.html.
import '@tensorflow/tfjs-backend-cpu';
export * as attrib from '../../src/index.js';
export * as tf from '@tensorflow/tfjs-core';
export * as tfl from '@tensorflow/tfjs-layers';
export { colorOf } from '../../src/viz/colormap.js';
export { heatmapRgba, normalizeMap, overlayRgba, reduceChannels, upscaleRgba } from '../../src/viz/heatmap.js';
