/**
 * Small grayscale images as PNG data URIs, so a notebook can show training examples inline
 * (8-bit greyscale, one IDAT chunk, zlib from Node).
 */
import { crc32, deflateSync } from "node:zlib";

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td) >>> 0);
  return Buffer.concat([len, td, crc]);
}

/** pixels in [0, 1], row-major side×side; `scale` repeats each pixel for a visible size. */
export function pngDataUri(pixels: ArrayLike<number>, side: number, scale = 4): string {
  const w = side * scale;
  const raw = Buffer.alloc((w + 1) * w);
  for (let r = 0; r < w; r++) {
    raw[r * (w + 1)] = 0;
    for (let c = 0; c < w; c++) {
      const v = pixels[Math.floor(r / scale) * side + Math.floor(c / scale)];
      raw[r * (w + 1) + 1 + c] = 255 - Math.max(0, Math.min(255, Math.round(v * 255)));
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(w, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", ihdr), chunk("IDAT", deflateSync(raw)), chunk("IEND", Buffer.alloc(0))]);
  return `data:image/png;base64,${png.toString("base64")}`;
}

/** A row of captioned images as HTML. */
export function imageStrip(items: { pixels: ArrayLike<number>; side: number; caption: string }[], scale = 3): string {
  const cells = items.map(
    (it) =>
      `<figure style="display:inline-block;margin:4px;text-align:center;font:11px sans-serif"><img src="${pngDataUri(it.pixels, it.side, scale)}" style="image-rendering:pixelated;border:1px solid #ccc"/><figcaption>${it.caption}</figcaption></figure>`,
  );
  return `<div>${cells.join("")}</div>`;
}
