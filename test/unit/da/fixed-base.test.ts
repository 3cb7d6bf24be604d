// Fixed-base MSMs (prepared bases, affine buckets filled by batched affine additions in
// WebAssembly) against mcl's own mulVec, in G1 and G2, point for point.
import { expect } from "chai";
import { g1ToAffine, g2ToAffine, initBn254, mcl } from "../../../lib/da/bn254.js";
import { FR_MODULUS, Fr } from "../../../lib/da/field.js";
import { fixedBaseG1, fixedBaseG2, prepareFixedBase } from "../../../lib/da/fixed-base.js";
import { commitLength, prepareLengthTables } from "../../../lib/da/kzg-bn254.js";
import { insecureSrs } from "../../../lib/da/srs.js";
import { randomFieldElements } from "./random-field.js";

/** The reference: mcl's mulVec on the scalars reduced mod r. */
function mulVec<T extends mcl.G1 | mcl.G2>(points: readonly T[], scalars: readonly bigint[]): T {
  return mcl.mulVec(
    points.slice(0, scalars.length) as T[],
    scalars.map((s) => {
      const f = new mcl.Fr();
      f.setStr(Fr.create(s).toString(16), 16);
      return f;
    }),
  );
}

const EDGE = [0n, 1n, FR_MODULUS - 1n, FR_MODULUS, -3n, 2n ** 253n, (1n << 254n) % FR_MODULUS];

describe("fixed-base multi-scalar multiplication", function () {
  this.timeout(120_000);
  before(() => initBn254());

  it("a prepared fixed basis gives mcl's mulVec on random and edge scalars, a point repeated, and fewer scalars than points", async () => {
    const srs = await insecureSrs(5, 512);
    const table = prepareFixedBase(srs.g2.slice(0, 300));
    for (const n of [1, 2, 64, 300]) {
      const scalars = randomFieldElements(n, 100 + n);
      expect(g2ToAffine(fixedBaseG2(table, scalars)), `${n} points`).to.deep.equal(g2ToAffine(mulVec(srs.g2, scalars)));
    }
    expect(g2ToAffine(fixedBaseG2(table, EDGE))).to.deep.equal(g2ToAffine(mulVec(srs.g2, EDGE)));
    expect(fixedBaseG2(table, [0n, 0n, 0n]).isZero()).to.equal(true);
    const repeated = [srs.g2[1]!, srs.g2[1]!, srs.g2[1]!, srs.g2[2]!];
    const scalars = [5n, 5n, FR_MODULUS - 5n, 7n];
    expect(g2ToAffine(fixedBaseG2(prepareFixedBase(repeated), scalars))).to.deep.equal(g2ToAffine(mulVec(repeated, scalars)));
    expect(() => fixedBaseG2(table, randomFieldElements(301, 1))).to.throw(RangeError);
  });

  it("commitLength gives the same length commitment and proof with the fixed-base tables prepared", async () => {
    const srs = await insecureSrs(9, 256);
    const coefficients = randomFieldElements(256, 9);
    const plain = commitLength(srs, coefficients);
    prepareLengthTables(srs, 256);
    const prepared = commitLength(srs, coefficients);
    expect(g2ToAffine(prepared.lengthCommitment)).to.deep.equal(g2ToAffine(plain.lengthCommitment));
    expect(g2ToAffine(prepared.lengthProof)).to.deep.equal(g2ToAffine(plain.lengthProof));
  });

  it("a prepared G1 basis gives mcl's mulVec on random and edge scalars, a point repeated, a point at infinity", async () => {
    const srs = await insecureSrs(5, 512);
    const table = prepareFixedBase(srs.g1.slice(0, 400));
    for (const n of [1, 3, 100, 400]) {
      const scalars = randomFieldElements(n, 200 + n);
      expect(g1ToAffine(fixedBaseG1(table, scalars)), `${n} points`).to.deep.equal(g1ToAffine(mulVec(srs.g1, scalars)));
    }
    expect(g1ToAffine(fixedBaseG1(table, EDGE))).to.deep.equal(g1ToAffine(mulVec(srs.g1, EDGE)));
    const repeated = [srs.g1[1]!, srs.g1[1]!, srs.g1[1]!, srs.g1[2]!, new mcl.G1()];
    const scalars = [5n, 5n, FR_MODULUS - 5n, 7n, 11n];
    expect(g1ToAffine(fixedBaseG1(prepareFixedBase(repeated), scalars))).to.deep.equal(g1ToAffine(mulVec(repeated, scalars)));
  });
});
