import { expect } from "chai";
import { sha256, toUtf8Bytes } from "ethers";
import { OpenLoraError } from "../../../lib/serving/errors.js";
import { ReceiptLog, receiptIndexOf, receiptOf, requestIdOf } from "../../../lib/serving/receipts.js";
import type { GenerationResult } from "../../../lib/serving/scheduler.js";
import { expectCode } from "../expect-code.js";

function served(id: string): GenerationResult {
  return {
    id,
    adapter: "a",
    adapterSha256: "01".repeat(32),
    baseSha256: "ab".repeat(32),
    prompt: [1, 2],
    tokens: [3, 4],
    finishReason: "length",
    timings: { queuedMs: 1, firstTokenMs: 2, totalMs: 3, coldStart: { from: "slot", ms: 0 } },
  };
}

describe("receipts: a completion's receipt in its batch", () => {
  it("the request id is sha256 of the completion id, and finds the completion's receipt", () => {
    expect(requestIdOf("cmpl-7")).to.equal(sha256(toUtf8Bytes("cmpl-7")));
    const log = new ReceiptLog();
    for (const id of ["cmpl-1", "cmpl-2", "cmpl-3"]) log.add(receiptOf(served(id), "wasm"));
    const batch = log.seal();
    expect(["cmpl-3", "cmpl-1"].map((id) => receiptIndexOf(batch, id))).to.deep.equal([2, 0]);
    expect(batch.receipts[receiptIndexOf(batch, "cmpl-2")]!.requestId).to.equal(requestIdOf("cmpl-2"));
  });

  it("refuses a completion the batch has no receipt of", () => {
    const log = new ReceiptLog();
    log.add(receiptOf(served("cmpl-1"), "wasm"));
    expectCode(() => receiptIndexOf(log.seal(), "cmpl-9"), OpenLoraError, "receipts/not-in-batch", { completionId: "cmpl-9", requestId: requestIdOf("cmpl-9") });
  });
});
