import { expect } from "chai";
import type { Contract } from "ethers";
import { network } from "hardhat";
import { contractAt } from "../../lib/chain/contracts.js";
import { attributionRecordOf, ReceiptLog, readReceiptBatch, receiptOf, receiptProof, receiptStruct, recordReceiptBatch, signReceiptBatch, verifyReceiptProof } from "../../lib/serving/receipts.js";
import type { GenerationResult } from "../../lib/serving/scheduler.js";

const { ethers, networkHelpers } = await network.create();

const BASE = "ab".repeat(32);
const DATA_BPS = 5000n;

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

function sealed(...ids: number[]) {
  const log = new ReceiptLog();
  for (const i of ids) log.add(receiptOf(result(i), "wasm"));
  return log.seal();
}

async function deploy() {
  const [admin, server, stranger, modelOwner, customer] = await ethers.getSigners();
  const pool = await ethers.deployContract("RewardDistributor", [admin.address]);
  const receipts = await ethers.deployContract("InferenceReceipts", [admin.address, await pool.getAddress(), DATA_BPS, [server.address]]);
  return { admin, server, stranger, modelOwner, customer, pool, receipts: contractAt("InferenceReceipts", await receipts.getAddress(), server) };
}

describe("InferenceReceipts receipt batches", () => {
  it("records a server-signed batch root and verifies every receipt on chain; a changed field or a proof of another leaf fails", async () => {
    const { receipts, server } = await networkHelpers.loadFixture(deploy);
    const batch = sealed(0, 1, 2, 3, 4, 5, 6);
    const recorded = await recordReceiptBatch(receipts, batch);
    expect(recorded.batchId).to.equal(0n);
    expect(await readReceiptBatch(receipts, 0n)).to.include({ root: batch.root, count: 7, baseModelHash: `0x${BASE}`, server: server.address, submitter: server.address });
    for (const [i, r] of batch.receipts.entries()) {
      const proof = receiptProof(batch, i);
      expect(verifyReceiptProof(batch.root, r, proof)).to.equal(true);
      expect(await receipts.verifyReceipt(0, receiptStruct(r), proof)).to.equal(true);
    }
    const forged = { ...batch.receipts[2], tokensOut: batch.receipts[2].tokensOut + 1 };
    expect(await receipts.verifyReceipt(0, receiptStruct(forged), receiptProof(batch, 2))).to.equal(false);
    expect(await receipts.verifyReceipt(0, receiptStruct(batch.receipts[2]), receiptProof(batch, 3))).to.equal(false);
    // a cut stream is committed by the root; the measured latency travels beside the leaf
    const uncut = { ...batch.receipts[2], cut: !batch.receipts[2].cut };
    expect(await receipts.verifyReceipt(0, receiptStruct(uncut), receiptProof(batch, 2))).to.equal(false);
    expect(verifyReceiptProof(batch.root, { ...batch.receipts[2], latencyMicros: batch.receipts[2].latencyMicros + 1 }, receiptProof(batch, 2))).to.equal(true);
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

  it("attack: a stranger records a root of forged receipts; refused with NotServer, so it never verifies", async () => {
    const { receipts, server, stranger } = await networkHelpers.loadFixture(deploy);
    const forged = sealed(40, 41);
    const asStranger = receipts.connect(stranger) as typeof receipts;
    const signature = await signReceiptBatch(asStranger, stranger, forged);
    await expect(asStranger.recordReceiptBatch(forged.root, forged.baseModelHash, 2, signature))
      .to.be.revertedWithCustomError(receipts, "NotServer")
      .withArgs(stranger.address);
    // a server's signature over other fields recovers another (unregistered) key
    const serverSig = await signReceiptBatch(receipts, server, forged);
    await expect(asStranger.recordReceiptBatch(forged.root, forged.baseModelHash, 3, serverSig)).to.be.revertedWithCustomError(receipts, "NotServer");
    await expect(asStranger.recordReceiptBatch(forged.root, forged.baseModelHash, 2, "0x1234")).to.be.revertedWithCustomError(receipts, "ECDSAInvalidSignatureLength");
    expect(await receipts.receiptBatchCount()).to.equal(0n);
  });

  it("front-running a root: a stranger who relays the server's signed root records it under the server, and cannot take it for itself", async () => {
    const { receipts, server, stranger } = await networkHelpers.loadFixture(deploy);
    const batch = sealed(1, 2, 3);
    const signature = await signReceiptBatch(receipts, server, batch);
    const asStranger = receipts.connect(stranger) as typeof receipts;
    await expect(asStranger.recordReceiptBatch(batch.root, batch.baseModelHash, 3, signature))
      .to.emit(receipts, "ReceiptBatchRecorded")
      .withArgs(0n, batch.root, batch.baseModelHash, 3n, server.address, stranger.address);
    expect((await readReceiptBatch(receipts, 0n)).server).to.equal(server.address);
    await expect(receipts.recordReceiptBatch(batch.root, batch.baseModelHash, 3, signature))
      .to.be.revertedWithCustomError(receipts, "RootAlreadyRecorded")
      .withArgs(server.address, batch.root);
    const ownSig = await signReceiptBatch(asStranger, stranger, batch);
    await expect(asStranger.recordReceiptBatch(batch.root, batch.baseModelHash, 3, ownSig))
      .to.be.revertedWithCustomError(receipts, "NotServer")
      .withArgs(stranger.address);
  });

  it("a revoked server's receipts stop verifying; a non-admin cannot grant the server role", async () => {
    const { receipts, admin, server, stranger } = await networkHelpers.loadFixture(deploy);
    const batch = sealed(1, 2);
    await recordReceiptBatch(receipts, batch);
    expect(await receipts.verifyReceipt(0, receiptStruct(batch.receipts[0]), receiptProof(batch, 0))).to.equal(true);
    const role = await receipts.SERVER_ROLE();
    await expect((receipts.connect(stranger) as Contract).grantRole(role, stranger.address)).to.be.revertedWithCustomError(receipts, "AccessControlUnauthorizedAccount");
    await (receipts.connect(admin) as Contract).revokeRole(role, server.address);
    expect(await receipts.verifyReceipt(0, receiptStruct(batch.receipts[0]), receiptProof(batch, 0))).to.equal(false);
  });

  it("refuses empty batches and unknown batch ids", async () => {
    const { receipts, server } = await networkHelpers.loadFixture(deploy);
    const batch = sealed(1);
    const sig = await signReceiptBatch(receipts, server, batch);
    await expect(receipts.recordReceiptBatch(ethers.ZeroHash, `0x${BASE}`, 1, sig)).to.be.revertedWithCustomError(receipts, "EmptyBatch");
    await expect(receipts.recordReceiptBatch(batch.root, `0x${BASE}`, 0, sig)).to.be.revertedWithCustomError(receipts, "EmptyBatch");
    await expect(receipts.receiptBatch(5)).to.be.revertedWithCustomError(receipts, "UnknownBatch").withArgs(5n);
    await expect(receipts.verifyReceipt(5, receiptStruct(batch.receipts[0]), []))
      .to.be.revertedWithCustomError(receipts, "UnknownBatch")
      .withArgs(5n);
  });

  it("a receipt naming another base model does not verify against the batch", async () => {
    const { receipts } = await networkHelpers.loadFixture(deploy);
    const batch = sealed(1, 2);
    await recordReceiptBatch(receipts, batch);
    const other = { ...batch.receipts[0], baseModelHash: `0x${"cd".repeat(32)}` };
    expect(await receipts.verifyReceipt(0, receiptStruct(other), receiptProof(batch, 0))).to.equal(false);
  });
});

describe("InferenceReceipts fees", () => {
  async function withModel() {
    const f = await deploy();
    const id = ethers.id("fortunes-gpt");
    await (f.receipts.connect(f.modelOwner) as Contract).registerModel(id, 1000n);
    const key = await f.receipts.modelKeyOf(f.modelOwner.address, id);
    return { ...f, id, key, asCustomer: f.receipts.connect(f.customer) as Contract };
  }

  it("attack: an inference recorded without paying its fee; refused with WrongFee, nothing credited", async () => {
    const { asCustomer, key, modelOwner, receipts } = await networkHelpers.loadFixture(withModel);
    await expect(asCustomer.recordInference(key, ethers.ZeroHash, ethers.ZeroHash, 100, 50))
      .to.be.revertedWithCustomError(receipts, "WrongFee")
      .withArgs(0n, 150_000n);
    await expect(asCustomer.recordInference(key, ethers.ZeroHash, ethers.ZeroHash, 100, 50, { value: 149_999n }))
      .to.be.revertedWithCustomError(receipts, "WrongFee")
      .withArgs(149_999n, 150_000n);
    expect(await receipts.owed(modelOwner.address)).to.equal(0n);
  });

  it("attack: crediting any list of addresses without payment; payoutAttribution no longer exists", async () => {
    const { receipts } = await networkHelpers.loadFixture(withModel);
    expect(receipts.interface.getFunction("payoutAttribution")).to.equal(null);
  });

  it("a paid inference owes the model owner its share and sends the data share to the reward pool; the owner withdraws", async () => {
    const { asCustomer, customer, key, modelOwner, receipts, pool } = await networkHelpers.loadFixture(withModel);
    const tx = asCustomer.recordInference(key, ethers.id("p"), ethers.id("o"), 100, 50, { value: 150_000n });
    await expect(tx).to.emit(receipts, "InferenceRecorded").withArgs(key, customer.address, ethers.id("p"), ethers.id("o"), 100, 50, 150_000n, 75_000n);
    await expect(tx)
      .to.emit(pool, "RewardPoolFunded")
      .withArgs(await receipts.getAddress(), 75_000n);
    expect(await pool.rewardPool()).to.equal(75_000n);
    expect(await receipts.owed(modelOwner.address)).to.equal(75_000n);
    expect(await receipts.totalOwed()).to.equal(75_000n);
    expect(await ethers.provider.getBalance(await receipts.getAddress())).to.equal(75_000n);
    const asOwner = receipts.connect(modelOwner) as Contract;
    await expect(asOwner.withdraw()).to.changeEtherBalances(ethers, [modelOwner, receipts], [75_000n, -75_000n]);
    await expect(asOwner.withdraw()).to.be.revertedWithCustomError(receipts, "NothingOwed").withArgs(modelOwner.address);
    expect(await receipts.inferenceCount(key)).to.equal(1n);
  });

  it("front-running a model registration: a stranger's registration of the same id gets its own key; the owner's still succeeds and is paid", async () => {
    const { receipts, stranger, modelOwner } = await networkHelpers.loadFixture(deploy);
    const id = ethers.id("popular-model");
    await (receipts.connect(stranger) as Contract).registerModel(id, 1n);
    const ownerKey = await receipts.modelKeyOf(modelOwner.address, id);
    await expect((receipts.connect(modelOwner) as Contract).registerModel(id, 10n))
      .to.emit(receipts, "ModelRegistered")
      .withArgs(ownerKey, modelOwner.address, id, 10n);
    expect((await receipts.models(ownerKey)).owner).to.equal(modelOwner.address);
    await expect((receipts.connect(modelOwner) as Contract).registerModel(id, 10n))
      .to.be.revertedWithCustomError(receipts, "ModelTaken")
      .withArgs(ownerKey);
    await expect(receipts.recordInference(ethers.id("nobody"), ethers.ZeroHash, ethers.ZeroHash, 1, 1)).to.be.revertedWithCustomError(receipts, "UnknownModel");
  });

  it("refuses a data share above 100% and zero addresses at deployment", async () => {
    const [admin] = await ethers.getSigners();
    const pool = await ethers.deployContract("RewardDistributor", [admin.address]);
    const factory = await ethers.getContractFactory("InferenceReceipts");
    await expect(ethers.deployContract("InferenceReceipts", [admin.address, await pool.getAddress(), 10_001, []]))
      .to.be.revertedWithCustomError(factory, "DataShareTooLarge")
      .withArgs(10_001);
    await expect(ethers.deployContract("InferenceReceipts", [ethers.ZeroAddress, await pool.getAddress(), 5000, []])).to.be.revertedWithCustomError(factory, "ZeroAddress");
  });
});
