import { expect } from "chai";
import { g1Generator, g2Generator, initBn254, mcl, msmG1, msmG2, pairingProductIsOne } from "../../../lib/da/bn254.js";
import { insecureSrs } from "../../../lib/da/srs.js";

describe("BN254 MSMs past mcl-wasm's stack", function () {
  this.timeout(120_000);
  it("builds a 4096-point SRS; 4096-term MSMs in G1 and G2 (summed from pieces) commit to the same scalar", async () => {
    await initBn254();
    const srs = await insecureSrs("big", 4096);
    const scalars = Array.from({ length: 4096 }, (_, i) => BigInt(i * 7 + 1));
    // [s]_1 and [s]_2 for s = sum_i scalars[i] tau^i: e([s]_1, G2) = e(G1, [s]_2) only if both sums are right.
    const a = msmG1(srs.g1, scalars);
    const b = msmG2(srs.g2, scalars);
    expect(pairingProductIsOne(a, g2Generator(), mcl.neg(g1Generator()), b)).to.equal(true);
    const off = msmG2(
      srs.g2,
      scalars.map((s, i) => (i === 3000 ? s + 1n : s)),
    );
    expect(pairingProductIsOne(a, g2Generator(), mcl.neg(g1Generator()), off)).to.equal(false);
  });
});
