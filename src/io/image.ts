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

/** Limits for untrusted images: at most this many pixels (the default of `maxPixels`)… */
export const MAX_IMAGE_PIXELS = 50_000_000;
/** …and at most this many on a side. */
export const MAX_IMAGE_SIDE = 16_384;

/** The magic bytes of a PNG or a JPEG (`undefined` for anything else). */
export function imageFormat(bytes: Uint8Array): 'png' | 'jpeg' | undefined {
  if (bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return 'png';
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return 'jpeg';
  return undefined;
}

/**
 * Width and height from a PNG's IHDR chunk or a JPEG's start-of-frame marker, read without decoding
 * any pixel data (so an oversized image is refused in microseconds, not after gigabytes).
 *
 * @throws {FileFormatError} `invalid_file` when the header is missing or malformed.
 */
export function imageDimensions(bytes: Uint8Array, source = 'image'): { width: number; height: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const format = imageFormat(bytes);
  if (format === 'png') {
    const ihdr = bytes.length >= 24 && String.fromCharCode(bytes[12]!, bytes[13]!, bytes[14]!, bytes[15]!) === 'IHDR';
    if (!ihdr) throw new FileFormatError(`${source} is a PNG without an IHDR header`, { source });
    return { width: view.getUint32(16), height: view.getUint32(20) };
  }
  if (format === 'jpeg') {
    let p = 2;
    while (p + 4 <= bytes.length) {
      if (bytes[p] !== 0xff) break;
      const marker = bytes[p + 1]!;
      if (marker === 0xff) {
        p++; // fill byte
        continue;
      }
      if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
        p += 2; // markers without a length
        continue;
      }
      const len = view.getUint16(p + 2);
      // SOF0–SOF15 except DHT (C4), JPG (C8) and DAC (CC): [len, precision, height, width]
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        if (p + 9 > bytes.length) break;
        return { width: view.getUint16(p + 7), height: view.getUint16(p + 5) };
      }
      if (marker === 0xd9 || marker === 0xda || len < 2) break; // end of image or scan data before any frame
      p += 2 + len;
    }
    throw new FileFormatError(`${source} is a JPEG without a frame header (SOF)`, { source });
  }
  throw new FileFormatError(`${source} is neither PNG nor JPEG (unknown magic bytes)`, { source });
}

/**
 * Refuses an image larger than `maxPixels` pixels (default {@link MAX_IMAGE_PIXELS}) or
 * {@link MAX_IMAGE_SIDE} on a side, from its header alone.
 *
 * @throws {FileFormatError} `invalid_file` with `details.width`, `details.height` and `details.maxPixels`.
 */
export function checkImageSize(bytes: Uint8Array, opts: { readonly maxPixels?: number; readonly source?: string } = {}): { width: number; height: number } {
  const source = opts.source ?? 'image';
  const maxPixels = opts.maxPixels ?? MAX_IMAGE_PIXELS;
  const { width, height } = imageDimensions(bytes, source);
  if (width === 0 || height === 0) throw new FileFormatError(`${source} has no pixels (${width}×${height})`, { source, width, height });
  if (width * height > maxPixels || width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE) {
    throw new FileFormatError(`${source} is ${width}×${height} pixels; at most ${maxPixels} pixels and ${MAX_IMAGE_SIDE} on a side are decoded`, {
      source,
      width,
      height,
      maxPixels,
      maxSide: MAX_IMAGE_SIDE,
    });
  }
  return { width, height };
}

/**
 * Decodes a PNG or JPEG (by magic bytes) to RGB floats in [0, 1]; `channels: 1` gives luminance.
 * The size is checked from the header first (`maxPixels`, default {@link MAX_IMAGE_PIXELS}).
 */
export function decodeImage(bytes: Uint8Array, opts: { channels?: 1 | 3; source?: string; maxPixels?: number } = {}): ImageData01 {
  const source = opts.source ?? 'image';
  const channels = opts.channels ?? 3;
  const maxPixels = opts.maxPixels ?? MAX_IMAGE_PIXELS;
  checkImageSize(bytes, { maxPixels, source });
  let rgba: Uint8Array;
  let width: number;
  let height: number;
  const format = imageFormat(bytes);
  try {
    if (format === 'png') {
      const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      rgba = new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength);
      width = png.width;
      height = png.height;
    } else {
      const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: maxPixels / 1e6, maxMemoryUsageInMB: 1024 });
      rgba = img.data;
      width = img.width;
      height = img.height;
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
