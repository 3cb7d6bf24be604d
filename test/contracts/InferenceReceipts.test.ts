import { expect } from "chai";
import { network } from "hardhat";
import { contractAt } from "../../lib/chain/contracts.js";
import { attributionRecordOf, ReceiptLog, readReceiptBatch, receiptOf, receiptProof, receiptStruct, recordReceiptBatch, verifyReceiptProof } from "../../lib/serving/receipts.js";
import type { GenerationResult } from "../../lib/serving/scheduler.js";

const { ethers, networkHelpers } = await network.create();

const BASE = "ab".repeat(32);

function result(i: number, base = BASE): GenerationResult {
  return {
    id: `cmpl-${i}`,
    adapter: `a${i % 3}`,
    adapterSha256: (i % 3).toString(16).padStart(2, "0").repeat(32),
    baseSha256: base,
    prompt: [1, 2, i],
    tokens: [i, i + 1, i + 2, 4],
    finishReason: "length",
    timings: { queuedMs: 1, firstTokenMs: 2, totalMs: 3.5 + i, coldStart: { from: "slot", ms: 0 } },
  };
}

async function deploy() {
  const receipts = await ethers.deployContract("InferenceReceipts");
  return { receipts: contractAt("InferenceReceipts", await receipts.getAddress(), receipts.runner) };
}

describe("InferenceReceipts receipt batches", () => {
  it("records a batch root and verifies every receipt on chain; a changed field or a proof of another leaf fails", async () => {
    const { receipts } = await networkHelpers.loadFixture(deploy);
    const log = new ReceiptLog();
    for (let i = 0; i < 7; i++) log.add(receiptOf(result(i), "wasm"));
    const batch = log.seal();
    const recorded = await recordReceiptBatch(receipts, batch);
    expect(recorded.batchId).to.equal(0n);
    expect(await readReceiptBatch(receipts, 0n)).to.include({ root: batch.root, count: 7, baseModelHash: `0x${BASE}` });
    for (const [i, r] of batch.receipts.entries()) {
      const proof = receiptProof(batch, i);
      expect(verifyReceiptProof(batch.root, r, proof)).to.equal(true);
      expect(await receipts.verifyReceipt(0, receiptStruct(r), proof)).to.equal(true);
    }
    const forged = { ...batch.receipts[2], tokensOut: batch.receipts[2].tokensOut + 1 };
    expect(await receipts.verifyReceipt(0, receiptStruct(forged), receiptProof(batch, 2))).to.equal(false);
    expect(await receipts.verifyReceipt(0, receiptStruct(batch.receipts[2]), receiptProof(batch, 3))).to.equal(false);
    // what the Attribution Network reads: a proven receipt becomes its inference record; a forged one is refused
    const rec = await attributionRecordOf(receipts, 0n, batch.receipts[2], receiptProof(batch, 2), "datainf", ethers.ZeroHash);
    expect(rec).to.include({ inferenceId: batch.receipts[2].requestId, adapterId: batch.receipts[2].adapterHash, inputHash: batch.receipts[2].promptHash, modelId: `0x${BASE}` });
    let code = "";
    try {
      await attributionRecordOf(receipts, 0n, forged, receiptProof(batch, 2), "datainf", ethers.ZeroHash);
    } catch (e) {
      code = (e as { code: string }).code;
    }
    expect(code).to.equal("receipts/unproven");
  });

  it("emits ReceiptBatchRecorded and refuses empty batches, a root recorded twice, and unknown batch ids", async () => {
    const { receipts } = await networkHelpers.loadFixture(deploy);
    const [signer] = await ethers.getSigners();
    const log = new ReceiptLog();
    log.add(receiptOf(result(1), "wasm"));
    const batch = log.seal();
    await expect(receipts.recordReceiptBatch(batch.root, `0x${BASE}`, 1))
      .to.emit(receipts, "ReceiptBatchRecorded")
      .withArgs(0n, batch.root, `0x${BASE}`, 1n, signer.address);
    await expect(receipts.recordReceiptBatch(batch.root, `0x${BASE}`, 1))
      .to.be.revertedWithCustomError(receipts, "RootAlreadyRecorded")
      .withArgs(batch.root);
    await expect(receipts.recordReceiptBatch(ethers.ZeroHash, `0x${BASE}`, 1)).to.be.revertedWithCustomError(receipts, "EmptyBatch");
    await expect(receipts.recordReceiptBatch(ethers.id("x"), `0x${BASE}`, 0)).to.be.revertedWithCustomError(receipts, "EmptyBatch");
    await expect(receipts.receiptBatch(5)).to.be.revertedWithCustomError(receipts, "UnknownBatch").withArgs(5n);
    expect(await receipts.receiptBatchCount()).to.equal(1n);
  });

  it("a receipt naming another base model does not verify against the batch", async () => {
    const { receipts } = await networkHelpers.loadFixture(deploy);
    const log = new ReceiptLog();
    log.add(receiptOf(result(1), "wasm"));
    log.add(receiptOf(result(2), "wasm"));
    const batch = log.seal();
    await recordReceiptBatch(receipts, batch);
    const other = { ...batch.receipts[0], baseModelHash: `0x${"cd".repeat(32)}` };
    expect(await receipts.verifyReceipt(0, receiptStruct(other), receiptProof(batch, 0))).to.equal(false);
  });
});
