// Ported from EigenDA's core/v2/serialization_test.go (test names kept): the payment metadata and
// batch header hashes the disperser, the operators and the certificate verifier must agree on.
import { expect } from "chai";
import { hexlify } from "ethers";
import { hashBatchHeaderV2 } from "../../../lib/da/certificate.js";
import { paymentMetadataHash } from "../../../lib/da/payment.js";

describe("EigenDA hashes (ported from core/v2 serialization_test.go)", () => {
  it("TestPaymentHash: keccak256(abi.encode((string accountID, int64 timestamp, uint256 cumulativePayment)))", () => {
    const hash = paymentMetadataHash({ accountId: "0x0000000000000000000000000000000000000123", timestamp: 5n, cumulativePayment: 100n });
    expect(hash).to.equal("0x234c3d10881641264afe33cf492000f8ecd505e385050314c63469c3ad2977c9");
    // The account is hashed as checksummed text: a lower-case spelling of the same address hashes the same.
    expect(paymentMetadataHash({ accountId: "0x0000000000000000000000000000000000000123".toLowerCase(), timestamp: 5n, cumulativePayment: 100n })).to.equal(hash);
    expect(paymentMetadataHash({ accountId: "0x0000000000000000000000000000000000000123", timestamp: 6n, cumulativePayment: 100n })).to.not.equal(hash);
  });

  it("TestBatchHeaderHash", () => {
    const batchRoot = new Uint8Array(32);
    batchRoot[0] = "1".charCodeAt(0);
    expect(hashBatchHeaderV2({ batchRoot: hexlify(batchRoot), referenceBlockNumber: 1 })).to.equal("0x891d0936da4627f445ef193aad63afb173409af9e775e292e4e35aff790a45e2");
  });
});
