import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { expect } from "chai";
import fc from "fast-check";
import { network } from "hardhat";
import { allocate, buildRewardTree } from "../../lib/attribution/payouts.js";

const { ethers, networkHelpers } = await network.create();

async function deploy() {
  const [owner, alice, bob, carol, mallory] = await ethers.getSigners();
  const dist = await ethers.deployContract("RewardDistributor", [owner.address]);
  const token = await ethers.deployContract("RewardTestToken");
  const registry = await ethers.deployContract("AttributionRegistry", [owner.address]);
  return { owner, alice, bob, carol, mallory, dist, token, registry };
}

describe("RewardDistributor", () => {
  it("pays native currency by Merkle proof, emits Claimed, and a second claim reverts", async () => {
    const { alice, bob, dist } = await networkHelpers.loadFixture(deploy);
    const amounts = new Map([
      [alice.address, 700n],
      [bob.address, 300n],
    ]);
    const t = buildRewardTree(amounts);
    await expect(dist.createEpoch(t.root, ethers.ZeroAddress, t.total, ethers.id("inference-1"), { value: t.total }))
      .to.emit(dist, "EpochCreated")
      .withArgs(0n, t.root, ethers.ZeroAddress, 1000n, ethers.id("inference-1"));
    const { amount, proof } = t.proofOf(alice.address);
    const tx = (dist.connect(bob) as typeof dist).claim(0, alice.address, amount, proof);
    await expect(tx).to.changeEtherBalances(ethers, [alice, dist], [700n, -700n]);
    await expect(tx).to.emit(dist, "Claimed").withArgs(0n, alice.address, 700n);
    await expect(dist.claim(0, alice.address, amount, proof))
      .to.be.revertedWithCustomError(dist, "AlreadyClaimed")
      .withArgs(0n, alice.address);
    expect(await dist.hasClaimed(0, alice.address)).to.equal(true);
    expect((await dist.epoch(0)).claimed).to.equal(700n);
  });

  it("pays an ERC-20, pulled from the funder when the epoch opens", async () => {
    const { owner, alice, bob, dist, token } = await networkHelpers.loadFixture(deploy);
    await token.mint(owner.address, 10_000n);
    const t = buildRewardTree(
      new Map([
        [alice.address, 4000n],
        [bob.address, 6000n],
      ]),
    );
    await token.approve(await dist.getAddress(), t.total);
    await expect(dist.createEpoch(t.root, await token.getAddress(), t.total, ethers.ZeroHash)).to.changeTokenBalances(ethers, token, [owner, dist], [-10_000n, 10_000n]);
    const p = t.proofOf(bob.address);
    await expect(dist.claim(0, bob.address, p.amount, p.proof)).to.changeTokenBalances(ethers, token, [bob, dist], [6000n, -6000n]);
    await expect(dist.createEpoch(t.root, await token.getAddress(), 1n, ethers.ZeroHash, { value: 1n }))
      .to.be.revertedWithCustomError(dist, "WrongValue")
      .withArgs(1n, 0n);
  });

  it("refuses wrong proofs, wrong amounts, other accounts' leaves and unknown epochs; nothing is paid", async () => {
    const { alice, bob, mallory, dist } = await networkHelpers.loadFixture(deploy);
    const t = buildRewardTree(
      new Map([
        [alice.address, 5n],
        [bob.address, 7n],
      ]),
    );
    await dist.createEpoch(t.root, ethers.ZeroAddress, t.total, ethers.ZeroHash, { value: t.total });
    const a = t.proofOf(alice.address);
    await expect(dist.claim(0, alice.address, 6n, a.proof))
      .to.be.revertedWithCustomError(dist, "InvalidProof")
      .withArgs(0n, alice.address, 6n);
    await expect(dist.claim(0, mallory.address, a.amount, a.proof)).to.be.revertedWithCustomError(dist, "InvalidProof");
    await expect(dist.claim(0, alice.address, a.amount, [])).to.be.revertedWithCustomError(dist, "InvalidProof");
    await expect(dist.claim(1, alice.address, a.amount, a.proof))
      .to.be.revertedWithCustomError(dist, "UnknownEpoch")
      .withArgs(1n);
    expect(await ethers.provider.getBalance(await dist.getAddress())).to.equal(12n);
  });

  it("rejects claims beyond the epoch's total even with valid proofs", async () => {
    const { alice, bob, dist } = await networkHelpers.loadFixture(deploy);
    // a tree whose leaves sum to more than the epoch is funded with
    const t = buildRewardTree(
      new Map([
        [alice.address, 60n],
        [bob.address, 60n],
      ]),
    );
    await dist.createEpoch(t.root, ethers.ZeroAddress, 100n, ethers.ZeroHash, { value: 100n });
    const a = t.proofOf(alice.address);
    const b = t.proofOf(bob.address);
    await dist.claim(0, alice.address, a.amount, a.proof);
    await expect(dist.claim(0, bob.address, b.amount, b.proof))
      .to.be.revertedWithCustomError(dist, "ExceedsEpochTotal")
      .withArgs(0n, 60n, 40n);
    expect(await dist.hasClaimed(0, bob.address)).to.equal(false);
  });

  it("only the owner opens epochs; zero roots and totals are refused", async () => {
    const { alice, dist } = await networkHelpers.loadFixture(deploy);
    await expect((dist.connect(alice) as typeof dist).createEpoch(ethers.id("r"), ethers.ZeroAddress, 1n, ethers.ZeroHash, { value: 1n })).to.be.revertedWithCustomError(
      dist,
      "OwnableUnauthorizedAccount",
    );
    await expect(dist.createEpoch(ethers.ZeroHash, ethers.ZeroAddress, 1n, ethers.ZeroHash, { value: 1n })).to.be.revertedWithCustomError(dist, "ZeroRoot");
    await expect(dist.createEpoch(ethers.id("r"), ethers.ZeroAddress, 0n, ethers.ZeroHash)).to.be.revertedWithCustomError(dist, "ZeroTotal");
  });

  it("fuzzed: every allocation sums to the pool, every leaf claims once, forged claims fail", async function () {
    this.timeout(120_000);
    const { dist } = await networkHelpers.loadFixture(deploy);
    const wallets = Array.from({ length: 6 }, () => ethers.Wallet.createRandom().address);
    let epochId = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.double({ min: 0, max: 1000, noNaN: true }), { minLength: 1, maxLength: 6 }), fc.bigInt({ min: 1n, max: 10n ** 20n }), fc.nat(), async (weights, pool, pick) => {
        if (!weights.some((w) => w > 0)) weights[0] = 1;
        const amounts = allocate(pool, weights);
        expect(amounts.reduce((a, b) => a + b, 0n)).to.equal(pool);
        const map = new Map<string, bigint>();
        for (const [i, v] of amounts.entries()) {
          if (v > 0n) map.set(wallets[i], v);
        }
        const t = buildRewardTree(map);
        await dist.createEpoch(t.root, ethers.ZeroAddress, t.total, ethers.ZeroHash, { value: t.total });
        const id = epochId++;
        const accounts = [...map.keys()];
        const victim = accounts[pick % accounts.length];
        const p = t.proofOf(victim);
        // forged: same proof, one more wei
        await expect(dist.claim(id, victim, p.amount + 1n, p.proof)).to.be.revertedWithCustomError(dist, "InvalidProof");
        for (const acc of accounts) {
          const q = t.proofOf(acc);
          await dist.claim(id, acc, q.amount, q.proof);
        }
        await expect(dist.claim(id, victim, p.amount, p.proof)).to.be.revertedWithCustomError(dist, "AlreadyClaimed");
        expect((await dist.epoch(id)).claimed).to.equal(pool);
        expect(StandardMerkleTree.verify(t.root, ["address", "uint256"], [victim, p.amount], p.proof)).to.equal(true);
      }),
      { numRuns: 25, seed: 42 },
    );
  });
});

describe("AttributionRegistry", () => {
  it("records an inference once, with its rewards root and evidence, and refuses re-recording", async () => {
    const { owner, alice, registry } = await networkHelpers.loadFixture(deploy);
    const args = [
      ethers.id("inf-1"),
      ethers.id("model"),
      ethers.id("adapter"),
      ethers.id("in"),
      ethers.id("out"),
      ethers.encodeBytes32String("datainf"),
      ethers.id("root"),
      ethers.id("evidence"),
      500n,
    ] as const;
    await expect(registry.record(...args))
      .to.emit(registry, "InferenceAttributed")
      .withArgs(args[0], args[1], args[2], args[3], args[4], args[5], args[6], args[7], args[8], owner.address);
    const rec = await registry.attributionOf(args[0]);
    expect(rec.rewardsRoot).to.equal(ethers.id("root"));
    expect(rec.dataShare).to.equal(500n);
    await expect(registry.record(...args)).to.be.revertedWithCustomError(registry, "AlreadyRecorded");
    await expect((registry.connect(alice) as typeof registry).record(ethers.id("inf-2"), args[1], args[2], args[3], args[4], args[5], args[6], args[7], 1n))
      .to.be.revertedWithCustomError(registry, "NotAttester")
      .withArgs(alice.address);
    await expect(registry.record(ethers.id("inf-3"), args[1], args[2], args[3], args[4], args[5], ethers.ZeroHash, args[7], 1n))
      .to.be.revertedWithCustomError(registry, "EmptyField")
      .withArgs("rewardsRoot");
    // nothing to pay (all influence negative): recorded with a zero root and zero data share
    await expect(registry.record(ethers.id("inf-4"), args[1], args[2], args[3], args[4], args[5], ethers.ZeroHash, args[7], 0n)).to.emit(registry, "InferenceAttributed");
    await expect(registry.attributionOf(ethers.id("nope"))).to.be.revertedWithCustomError(registry, "UnknownInference");
  });
});
