import { expect } from "chai";
import { connect } from "../../../lib/chain/connect.js";
import { parseGenericCommitment } from "../../../lib/da/altda.js";
import { decodeCert } from "../../../lib/da/certificate.js";
import { DAServiceError, DAVerificationError } from "../../../lib/da/errors.js";
import { type DAStack, startDAStack } from "../../../lib/da/stack.js";
import { expectCodeAsync } from "../expect-code.js";

describe("the DA server (eigenda-proxy mould) over HTTP", function () {
  this.timeout(300_000);
  let stack: DAStack;
  before(async () => {
    stack = await startDAStack({ seed: 13, chain: await connect({ network: "default" }), operators: 8, srsOrder: 256 });
  });
  after(async () => stack?.close());

  it("puts a payload, returns an EigenDA generic commitment, and gets the payload back by it", async () => {
    const payload = new TextEncoder().encode("frames ".repeat(300));
    const commitment = await stack.client.put(payload);
    expect([...commitment.subarray(0, 3)]).to.deep.equal([0x01, 0x00, 0x02]);
    const cert = decodeCert(parseGenericCommitment(commitment).cert);
    expect(cert.blobInclusionInfo.blobCertificate.blobHeader.commitment.length).to.equal(128);
    expect(await stack.client.get(commitment)).to.deep.equal(payload);
  });

  it("answers 418 for a certificate that fails on L1, 404 when no operator holds the blob, 400 for bad hex", async () => {
    const commitment = await stack.client.put(new TextEncoder().encode("x".repeat(500)));
    // A byte of the batch root (the certificate's second ABI word): it decodes, but fails on L1.
    const wrongRoot = commitment.slice();
    wrongRoot[3 + 32 + 5] ^= 1;
    await expectCodeAsync(stack.client.get(wrongRoot), DAVerificationError, "da/cert-invalid", { status: 418, remoteCode: "da/cert-invalid" });
    // A byte of a curve point near the end: the certificate no longer decodes.
    const offCurve = commitment.slice();
    offCurve[offCurve.length - 40] ^= 1;
    await expectCodeAsync(stack.client.get(offCurve), DAVerificationError, "da/cert-invalid", { status: 418, remoteCode: "da/cert-undecodable" });
    for (const op of stack.operators) op.behaviour = "withholding";
    try {
      await expectCodeAsync(stack.client.get(commitment), DAServiceError, "da/blob-not-found", { status: 404 });
    } finally {
      for (const op of stack.operators) op.behaviour = "honest";
    }
    const res = await fetch(`${stack.url}/get/0xzz`);
    expect(res.status).to.equal(400);
    expect((await res.json()).code).to.equal("da/commitment-not-hex");
  });
});
