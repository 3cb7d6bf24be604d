// Pippenger's G2 MSM against mcl's own mulVec, point for point: random scalars, the edge scalars
// (0, 1, r - 1, r and a negative one, reduced mod r), repeated points (a bucket then doubles) and
// sizes on both sides of the windows chosen.
import { expect } from "chai";
import { g2ToAffine, initBn254, mcl } from "../../../lib/da/bn254.js";
import { FR_MODULUS, Fr } from "../../../lib/da/field.js";
import { fixedBaseWindow } from "../../../lib/da/fixed-base.js";
import { pippengerG2, pippengerWindow } from "../../../lib/da/pippenger.js";
import { insecureSrs } from "../../../lib/da/srs.js";
import { randomFieldElements } from "./random-field.js";

/** The reference: mcl's mulVec on the scalars reduced mod r. */
function mulVec(points: readonly mcl.G2[], scalars: readonly bigint[]): mcl.G2 {
  return mcl.mulVec(
    points.slice(0, scalars.length) as mcl.G2[],
    scalars.map((s) => {
      const f = new mcl.Fr();
      f.setStr(Fr.create(s).toString(16), 16);
      return f;
    }),
  );
}

describe("Pippenger's G2 multi-scalar multiplication", function () {
  this.timeout(120_000);
  before(() => initBn254());

  it("equals mcl's mulVec on random scalars at sizes 1 to 1,500", async () => {
    const srs = await insecureSrs(5, 2048);
    for (const n of [1, 2, 7, 64, 300, 1500]) {
      const scalars = randomFieldElements(n, n);
      expect(g2ToAffine(pippengerG2(srs.g2, scalars)), `${n} points`).to.deep.equal(g2ToAffine(mulVec(srs.g2, scalars)));
    }
  });

  it("handles 0, 1, r - 1, r, a negative scalar, all-zero scalars, a point repeated and the point at infinity", async () => {
    const srs = await insecureSrs(5, 8);
    const edge = [0n, 1n, FR_MODULUS - 1n, FR_MODULUS, -3n, 2n ** 253n, (1n << 254n) % FR_MODULUS];
    expect(g2ToAffine(pippengerG2(srs.g2, edge))).to.deep.equal(g2ToAffine(mulVec(srs.g2, edge)));
    expect(pippengerG2(srs.g2, [0n, 0n, 0n]).isZero()).to.equal(true);
    const repeated = [srs.g2[1]!, srs.g2[1]!, srs.g2[1]!, srs.g2[2]!, new mcl.G2()];
    const scalars = [5n, 5n, FR_MODULUS - 5n, 7n, 3n];
    expect(g2ToAffine(pippengerG2(repeated, scalars))).to.deep.equal(g2ToAffine(mulVec(repeated, scalars)));
  });

  it("widens the window with the number of points", () => {
    expect(fixedBaseWindow(256)).to.be.below(fixedBaseWindow(1 << 16));
    expect(pippengerWindow(1)).to.be.below(pippengerWindow(1024));
    expect(pippengerWindow(1024)).to.be.below(pippengerWindow(1 << 16));
    expect(pippengerWindow(1 << 30)).to.equal(16);
  });
});
