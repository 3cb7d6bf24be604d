import { expect } from "chai";
import { hexlify } from "ethers";
import { altDATxData, certificateOfTxData, genericCommitment } from "../../../lib/da/altda.js";
import { DAEncodingError } from "../../../lib/da/errors.js";
import { expectCode } from "../expect-code.js";

describe("alt-DA batcher data: the certificate it carries", () => {
  const cert = Uint8Array.from([9, 8, 7, 6, 5]);
  const data = altDATxData(genericCommitment(cert));

  it("reads the certificate back from hex calldata (as L1 returns it) and from bytes", () => {
    for (const given of [hexlify(data), data]) {
      const read = certificateOfTxData(given);
      expect(Array.from(read.cert)).to.deep.equal(Array.from(cert));
      expect(read.dataBytes).to.equal(1 + 3 + cert.length);
    }
  });

  it("refuses frames posted directly (derivation version 0x00) and other DA layers", () => {
    expectCode(() => certificateOfTxData(Uint8Array.from([0x00, 1, 2])), DAEncodingError, "da/not-alt-da-data", { firstByte: 0 });
    const otherLayer = data.slice();
    otherLayer[2] = 0x01;
    expectCode(() => certificateOfTxData(otherLayer), DAEncodingError, "da/commitment-not-eigenda");
  });
});
