import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { FileFormatError } from '../core/errors.js';

/** An image as float pixels in [0, 1], channels last. */
export interface ImageData01 {
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 3 | 4;
  /** [height, width, channels] row-major. */
  readonly data: Float32Array;
}

/** Limits for untrusted images. */
export const MAX_IMAGE_PIXELS = 50_000_000;

/** Decodes a PNG or JPEG (by magic bytes) to RGB floats in [0, 1]; `channels: 1` gives luminance. */
export function decodeImage(bytes: Uint8Array, opts: { channels?: 1 | 3; source?: string } = {}): ImageData01 {
  const source = opts.source ?? 'image';
  const channels = opts.channels ?? 3;
  let rgba: Uint8Array;
  let width: number;
  let height: number;
  const isPng = bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
  const isJpeg = bytes[0] === 0xff && bytes[1] === 0xd8;
  try {
    if (isPng) {
      const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      if (png.width * png.height > MAX_IMAGE_PIXELS) throw new FileFormatError(`${source} is too large (${png.width}×${png.height})`, { source });
      rgba = new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength);
      width = png.width;
      height = png.height;
    } else if (isJpeg) {
      const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: MAX_IMAGE_PIXELS / 1e6, maxMemoryUsageInMB: 1024 });
      rgba = img.data;
      width = img.width;
      height = img.height;
    } else {
      throw new FileFormatError(`${source} is neither PNG nor JPEG (unknown magic bytes)`, { source });
    }
  } catch (e) {
    if (e instanceof FileFormatError) throw e;
    throw new FileFormatError(`${source} cannot be decoded: ${(e as Error).message}`, { source }, e);
  }
  const data = new Float32Array(width * height * channels);
  for (let p = 0; p < width * height; p++) {
    const r = rgba[p * 4]! / 255;
    const g = rgba[p * 4 + 1]! / 255;
    const b = rgba[p * 4 + 2]! / 255;
    if (channels === 1) data[p] = 0.299 * r + 0.587 * g + 0.114 * b;
    else (data[p * 3] = r), (data[p * 3 + 1] = g), (data[p * 3 + 2] = b);
  }
  return { width, height, channels, data };
}

/** Encodes RGBA bytes [height, width, 4] as PNG. */
export function encodePng(rgba: Uint8Array, width: number, height: number): Uint8Array {
  const png = new PNG({ width, height });
  png.data = Buffer.from(rgba.buffer, rgba.byteOffset, rgba.byteLength);
  return new Uint8Array(PNG.sync.write(png));
}
