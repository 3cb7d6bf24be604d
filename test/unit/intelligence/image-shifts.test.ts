import { expect } from "chai";
import { IMAGE_SHIFTS, shiftImage, shiftIntensities, unshiftIntensities } from "../../../lib/intelligence/datanets.js";

describe("the catalogue of image shifts (lib/intelligence/datanets.ts)", () => {
  const bytes = Uint8Array.from([0, 1, 4, 128, 255, 64, 200, 3, 9]);

  it("shifts 8-bit pixels exactly: the Factory's low contrast is 64 + ⌊p/4⌋, inversion 255 − p, translation moves the image", () => {
    expect(Array.from(shiftImage(bytes, 3, 3, "low-contrast"))).to.deep.equal([64, 64, 65, 96, 127, 80, 114, 64, 66]);
    expect(Array.from(shiftImage(bytes, 3, 3, "invert"))).to.deep.equal(Array.from(bytes, (p) => 255 - p));
    expect(shiftImage(bytes, 3, 3, "none")).to.equal(bytes);
    const moved = shiftImage(
      Uint8Array.from({ length: 64 }, (_, i) => i + 1),
      8,
      8,
      "translate",
    );
    expect(moved[3 * 8 + 4]).to.equal(1);
    expect(moved[0]).to.equal(0);
  });

  it("names the attribution benchmark's mid-grey low contrast apart, and undoes it", () => {
    const x = Float64Array.from([0, 0.25, 0.5, 1]);
    const shifted = shiftIntensities(x, "low-contrast-mid-grey");
    expect(Array.from(shifted)).to.deep.equal(Array.from(x, (v) => 0.3 + 0.4 * v));
    const back = unshiftIntensities(shifted, "low-contrast-mid-grey");
    for (const [i, v] of back.entries()) expect(v).to.be.closeTo(x[i], 1e-12);
    expect(Object.entries(IMAGE_SHIFTS).map(([name, s]) => [name, s.pixels])).to.deep.equal([
      ["none", "uint8"],
      ["invert", "uint8"],
      ["translate", "uint8"],
      ["low-contrast", "uint8"],
      ["low-contrast-mid-grey", "unit"],
    ]);
  });
});
