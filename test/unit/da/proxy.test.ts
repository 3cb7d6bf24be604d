// The lab's DA server against a client written from the OP Stack alt-DA specification and op-node's
// DAClient (POST /put/, GET /get/0x<commitment>), with eigenda-proxy's commitment modes and status codes.
import { expect } from "chai";
import { connect } from "../../../lib/chain/connect.js";
import { decodeCertRlp, encodeCertRlp } from "../../../lib/da/certificate.js";
import { DAServiceError, DAVerificationError } from "../../../lib/da/errors.js";
import { MAX_PUT_BYTES } from "../../../lib/da/proxy.js";
import { DAProxyClient } from "../../../lib/da/proxy-client.js";
import { type DAStack, startDAStack } from "../../../lib/da/stack.js";
import { expectCodeAsync } from "../expect-code.js";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/** The alt-DA spec's client: put the input, read back the commitment; get by 0x-hex of the commitment. */
async function specPut(url: string, input: Uint8Array, query = "", method = "POST"): Promise<Response> {
  return fetch(`${url}/put/${query}`, { method, body: input, headers: { "content-type": "application/octet-stream" } });
}
async function specGet(url: string, commitment: Uint8Array, query = ""): Promise<Response> {
  return fetch(`${url}/get/0x${hex(commitment)}${query}`);
}

describe("the DA server speaks eigenda-proxy's REST API (alt-DA client)", function () {
  this.timeout(300_000);
  let stack: DAStack;
  let commitment: Uint8Array;
  const payload = new TextEncoder().encode("frames ".repeat(300));
  before(async () => {
    stack = await startDAStack({ seed: 13, chain: await connect({ network: "default" }), operators: 8, srsOrder: 256 });
    const res = await specPut(stack.url, payload);
    expect(res.status).to.equal(200);
    commitment = new Uint8Array(await res.arrayBuffer());
  });
  after(async () => stack?.close());

  it("POST /put/ answers an OP generic commitment 0x01 0x00 0x02 ++ RLP(cert); GET /get/0x<commitment> answers the input", async () => {
    expect([...commitment.subarray(0, 3)]).to.deep.equal([0x01, 0x00, 0x02]);
    const cert = decodeCertRlp(commitment.subarray(3));
    expect(cert.blobInclusionInfo.blobCertificate.blobHeader.commitment.length).to.equal(128);
    const res = await specGet(stack.url, commitment);
    expect(res.status).to.equal(200);
    expect(new Uint8Array(await res.arrayBuffer())).to.deep.equal(payload);
    // The lab's own client takes the same routes.
    expect(await stack.client.get(commitment)).to.deep.equal(payload);
  });

  it("takes PUT and POST on /put and /put/, and commitment_mode=standard (0x02 ++ RLP(cert), no OP prefix)", async () => {
    const input = new TextEncoder().encode("standard mode ".repeat(40));
    const put = await fetch(`${stack.url}/put?commitment_mode=standard`, { method: "PUT", body: input });
    expect(put.status).to.equal(200);
    const standard = new Uint8Array(await put.arrayBuffer());
    expect(standard[0]).to.equal(0x02);
    decodeCertRlp(standard.subarray(1));
    const got = await specGet(stack.url, standard, "?commitment_mode=standard");
    expect(got.status).to.equal(200);
    expect(new Uint8Array(await got.arrayBuffer())).to.deep.equal(input);
    expect(await new DAProxyClient(stack.url, "standard").get(standard)).to.deep.equal(input);
    const unknownMode = await specGet(stack.url, standard, "?commitment_mode=arbitrum");
    expect(unknownMode.status).to.equal(400);
  });

  it("answers 413 to a 17 MiB put (the status, not a reset connection)", async () => {
    const res = await specPut(stack.url, new Uint8Array(17 * 1024 * 1024));
    expect(res.status).to.equal(413);
    expect((await res.json()).code).to.equal("da/payload-too-large");
    await expectCodeAsync(stack.client.put(new Uint8Array(MAX_PUT_BYTES + 1)), DAServiceError, "da/payload-too-large", { status: 413 });
  });

  it("answers 418 with a DerivationError body: 1 for a certificate that does not parse (trailing bytes), 3 for one checkDACert refuses", async () => {
    const trailing = Uint8Array.from([...commitment, 0x00]);
    const res1 = await specGet(stack.url, trailing);
    expect(res1.status).to.equal(418);
    expect((await res1.json()).StatusCode).to.equal(1);
    const cert = decodeCertRlp(commitment.subarray(3));
    cert.batchHeader = { ...cert.batchHeader, batchRoot: `0x${"11".repeat(32)}` };
    const wrongRoot = Uint8Array.from([...commitment.subarray(0, 3), ...encodeCertRlp(cert)]);
    const res3 = await specGet(stack.url, wrongRoot);
    expect(res3.status).to.equal(418);
    expect((await res3.json()).StatusCode).to.equal(3);
    await expectCodeAsync(stack.client.get(wrongRoot), DAVerificationError, "da/cert-invalid", { status: 418, derivationStatus: 3 });
  });

  it("answers 400 for bad hex and a keccak256 commitment, 404 for another DA layer or certificate version and for a blob no operator holds", async () => {
    expect((await fetch(`${stack.url}/get/0xzz`)).status).to.equal(400);
    expect((await specGet(stack.url, Uint8Array.from([0x00, ...new Uint8Array(32)]))).status).to.equal(400);
    expect((await fetch(`${stack.url}/put/0x00${"ab".repeat(32)}`, { method: "POST", body: payload })).status).to.equal(400);
    expect((await specGet(stack.url, Uint8Array.from([0x01, 0x01, 0x02, ...commitment.subarray(3)]))).status).to.equal(404);
    expect((await specGet(stack.url, Uint8Array.from([0x01, 0x00, 0x01, ...commitment.subarray(3)]))).status).to.equal(404);
    for (const op of stack.operators) op.behaviour = "withholding";
    try {
      expect((await specGet(stack.url, commitment)).status).to.equal(404);
      await expectCodeAsync(stack.client.get(commitment), DAServiceError, "da/blob-not-found", { status: 404 });
    } finally {
      for (const op of stack.operators) op.behaviour = "honest";
    }
  });

  it("answers 503 to a put the operators do not confirm (op-batcher's signal to fail over to L1)", async () => {
    for (const op of stack.operators) op.behaviour = "offline";
    try {
      expect((await specPut(stack.url, payload)).status).to.equal(503);
      await expectCodeAsync(stack.client.put(payload), DAServiceError, "da/unavailable", { status: 503 });
    } finally {
      for (const op of stack.operators) op.behaviour = "honest";
    }
  });
});
