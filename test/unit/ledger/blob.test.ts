import { expect } from "chai";
import { BYTES_PER_BLOB, decodeBlob, encodeBlob, kzgToVersionedHash, MAX_BLOB_DATA_SIZE } from "../../../lib/ledger/blob-eip4844.js";
import { toHex } from "../../../lib/ledger/bytes.js";
import { LedgerError } from "../../../lib/ledger/errors.js";
import { kzg as loadKzg } from "../../../lib/ledger/kzg-eip4844.js";
import { expectCode } from "../expect-code.js";

function pattern(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 131 + 7) & 0xff);
}

describe("blob encoding (Ecotone)", () => {
  it("holds 130,044 bytes: 127 bytes per 4 field elements, minus version and length", () => {
    expect(MAX_BLOB_DATA_SIZE).to.equal(130_044);
    expect(BYTES_PER_BLOB).to.equal(131_072);
  });
  for (const n of [0, 1, 27, 28, 127, 128, 4096, 130_043, 130_044]) {
    it(`round-trips ${n} bytes`, () => {
      const d = pattern(n);
      const blob = encodeBlob(d);
      expect(blob.length).to.equal(BYTES_PER_BLOB);
      for (let fe = 0; fe < 4096; fe++) expect(blob[fe * 32]! & 0xc0).to.equal(0);
      expect(toHex(decodeBlob(blob))).to.equal(toHex(d));
    });
  }
  it("puts version 0 and the uint24 length in the first field element", () => {
    const blob = encodeBlob(pattern(300));
    expect(blob[1]).to.equal(0); // version
    expect([blob[2], blob[3], blob[4]]).to.deep.equal([0, 1, 44]); // 300 = 0x00012c
  });
  it("refuses 130,045 bytes", () => {
    expectCode(() => encodeBlob(pattern(130_045)), LedgerError, "blob/too-large", { length: 130_045, max: 130_044 });
  });
  it("refuses field elements with either of the top two bits set", () => {
    for (const bit of [0x80, 0x40]) {
      const blob = encodeBlob(pattern(1000));
      blob[32 * 5] |= bit;
      expectCode(() => decodeBlob(blob), LedgerError, "blob/bad-field-element", { index: 5 });
    }
  });
  it("decodes a first field element with its top two bits set, as op-node's ToData does (it masks them)", () => {
    for (const n of [0, 27, 28, 1000]) {
      const d = pattern(n);
      const blob = encodeBlob(d);
      for (const top of [0x40, 0x80, 0xc0]) {
        const b = blob.slice();
        b[0]! |= top;
        expect(toHex(decodeBlob(b)), `${n} bytes, top bits 0x${top.toString(16)}`).to.equal(toHex(d));
      }
    }
    // The masked bits carry nothing: byte 0 = 0xC0 with length 0 is the empty blob.
    const empty = new Uint8Array(BYTES_PER_BLOB);
    empty[0] = 0xc0;
    expect(decodeBlob(empty).length).to.equal(0);
    // Its low six bits still count: 0xC1 puts a 1 past the length.
    empty[0] = 0xc1;
    expectCode(() => decodeBlob(empty), LedgerError, "blob/trailing-data", { offset: 31 });
  });
  it("refuses a wrong version, an oversized length and non-zero data past the length", () => {
    const v = encodeBlob(pattern(10));
    v[1] = 1;
    expectCode(() => decodeBlob(v), LedgerError, "blob/unknown-version");
    const l = encodeBlob(pattern(10));
    l[2] = 0x02; // 0x02000a > 130,044
    expectCode(() => decodeBlob(l), LedgerError, "blob/length-over-max");
    const t = encodeBlob(pattern(10));
    t[32 * 100 + 5] = 1;
    expectCode(() => decodeBlob(t), LedgerError, "blob/trailing-data");
  });
  it("is a valid EIP-4844 blob with a real KZG commitment and proof", async function () {
    this.timeout(60_000);
    const kzg = await loadKzg();
    const blob = encodeBlob(pattern(130_044));
    const commitment = kzg.blobToKZGCommitment(toHex(blob));
    const proof = kzg.computeBlobKZGProof(toHex(blob), commitment);
    expect(kzg.verifyBlobKZGProof(toHex(blob), commitment, proof)).to.equal(true);
    const vh = kzgToVersionedHash(Buffer.from(commitment.slice(2), "hex"));
    expect(vh[0]).to.equal(1);
    expect(vh.length).to.equal(32);
  });
});
