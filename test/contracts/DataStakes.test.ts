import { expect } from "chai";
import type { Contract } from "ethers";
import { network } from "hardhat";
import { deployEconomics, registerDatanet, type SampleLeaf } from "./contract-fixtures.js";

const { ethers, networkHelpers } = await network.create();

const MIN_STAKE = 10n ** 16n;
const WINDOW = 3600n;
const REPORTER_BPS = 1000n;

/** A datanet of three contributors, two samples each, registered as the lab registers one. */
async function deploy() {
  const [admin, attester, flipper, honest, other, stranger] = await ethers.getSigners();
  const {
    distributor: pool,
    datanets,
    stakes,
  } = await deployEconomics(ethers, admin.address, {
    dataBps: 5000,
    minStake: MIN_STAKE,
    window: WINDOW,
    reporterBps: REPORTER_BPS,
    attesters: [attester.address],
  });
  const contributors = [flipper, honest, other];
  const leaves = contributors.flatMap((c, k) => [0, 1].map((j) => [2 * k + j, c.address, ethers.id(`sample ${k} ${j}`)] as SampleLeaf));
  const name = "fmnist-low-contrast";
  const { tree, id } = await registerDatanet(datanets, {
    name,
    leaves,
    manifestHash: ethers.id("manifest"),
    contributors: contributors.map((c) => c.address),
    samples: [2n, 2n, 2n],
  });
  const proofOf = (k: number) => ({ index: 2 * k, hash: leaves[2 * k]![2], proof: tree.getProof(2 * k) });
  const stakeAs = async (k: number, value = MIN_STAKE) => {
    const p = proofOf(k);
    return (stakes.connect(contributors[k]!) as Contract).stake(id, p.index, p.hash, p.proof, { value });
  };
  for (const k of [0, 1, 2]) await stakeAs(k);
  return { admin, attester, flipper, honest, other, stranger, datanets, pool, stakes, id, tree, name, proofOf, stakeAs };
}

describe("DataStakes", () => {
  it("slashing: evidence against the label flipper, no challenge, the window passes; a tenth to the reporter, the rest to the reward pool", async () => {
    const { attester, flipper, stranger, pool, stakes, id } = await networkHelpers.loadFixture(deploy);
    const asAttester = stakes.connect(attester) as Contract;
    const evidence = ethers.id("self-influence scores");
    await expect(asAttester.fileEvidence(id, flipper.address, evidence)).to.emit(stakes, "EvidenceFiled");
    const c = await stakes.caseOf(0);
    expect(c.status).to.equal(1n); // Open
    await expect((stakes.connect(stranger) as Contract).slash(0))
      .to.be.revertedWithCustomError(stakes, "WindowNotExpired")
      .withArgs(0n, c.deadline);
    // in a block at the deadline itself the window is still open
    await networkHelpers.time.setNextBlockTimestamp(c.deadline);
    await expect((stakes.connect(stranger) as Contract).slash(0)).to.be.revertedWithCustomError(stakes, "WindowNotExpired");
    await networkHelpers.time.increaseTo(c.deadline);
    const tx = (stakes.connect(stranger) as Contract).slash(0);
    await expect(tx)
      .to.emit(stakes, "Slashed")
      .withArgs(0n, MIN_STAKE, MIN_STAKE / 10n, (MIN_STAKE * 9n) / 10n);
    await expect(tx).to.changeEtherBalances(ethers, [stakes, pool], [(-MIN_STAKE * 9n) / 10n, (MIN_STAKE * 9n) / 10n]);
    expect(await pool.rewardPool()).to.equal((MIN_STAKE * 9n) / 10n);
    expect(await stakes.stakeOf(id, flipper.address)).to.equal(0n);
    expect((await stakes.caseOf(0)).status).to.equal(3n); // Slashed
    await expect(asAttester.withdrawReward()).to.changeEtherBalances(ethers, [attester, stakes], [MIN_STAKE / 10n, -MIN_STAKE / 10n]);
    await expect(asAttester.withdrawReward()).to.be.revertedWithCustomError(stakes, "NothingOwed").withArgs(attester.address);
    await expect((stakes.connect(stranger) as Contract).slash(0))
      .to.be.revertedWithCustomError(stakes, "WrongStatus")
      .withArgs(0n, 3);
    await expect(asAttester.fileEvidence(id, flipper.address, evidence))
      .to.be.revertedWithCustomError(stakes, "NothingStaked")
      .withArgs(id, flipper.address);
  });

  it("an honest contributor's challenge wins: the adjudicator dismisses the case, records the decision, and the stake stays", async () => {
    const { admin, attester, honest, stakes, id } = await networkHelpers.loadFixture(deploy);
    await (stakes.connect(attester) as Contract).fileEvidence(id, honest.address, ethers.id("high self-influence: rare footwear"));
    await expect((stakes.connect(honest) as Contract).challenge(0, ethers.id("labels match the reference")))
      .to.emit(stakes, "Challenged")
      .withArgs(0n, ethers.id("labels match the reference"));
    await networkHelpers.time.increase(WINDOW + 1n);
    await expect(stakes.slash(0)).to.be.revertedWithCustomError(stakes, "WrongStatus").withArgs(0n, 2);
    await expect((stakes.connect(attester) as Contract).decide(0, false, ethers.id("audit: 0 of 2 labels differ")))
      .to.be.revertedWithCustomError(stakes, "AccessControlUnauthorizedAccount")
      .withArgs(attester.address, await stakes.ADJUDICATOR_ROLE());
    await expect((stakes.connect(admin) as Contract).decide(0, false, ethers.id("audit: 0 of 2 labels differ")))
      .to.emit(stakes, "CaseDecided")
      .withArgs(0n, false, ethers.id("audit: 0 of 2 labels differ"));
    const c = await stakes.caseOf(0);
    expect(c.status).to.equal(4n); // Dismissed
    expect(c.decisionHash).to.equal(ethers.id("audit: 0 of 2 labels differ"));
    expect(await stakes.stakeOf(id, honest.address)).to.equal(MIN_STAKE);
    await expect((stakes.connect(admin) as Contract).decide(0, true, ethers.ZeroHash))
      .to.be.revertedWithCustomError(stakes, "WrongStatus")
      .withArgs(0n, 4);
  });

  it("a challenged case upheld by the adjudicator is slashed", async () => {
    const { admin, attester, flipper, stakes, pool, id } = await networkHelpers.loadFixture(deploy);
    await (stakes.connect(attester) as Contract).fileEvidence(id, flipper.address, ethers.id("e"));
    await (stakes.connect(flipper) as Contract).challenge(0, ethers.id("no"));
    await expect((stakes.connect(admin) as Contract).decide(0, true, ethers.id("audit: 2 of 2 labels differ"))).to.emit(stakes, "Slashed");
    expect(await pool.rewardPool()).to.equal((MIN_STAKE * 9n) / 10n);
  });

  it("front-running a slash: unbonding cannot outrun evidence, and a stake under a pending case cannot be withdrawn", async () => {
    const { attester, flipper, stakes, id } = await networkHelpers.loadFixture(deploy);
    const asFlipper = stakes.connect(flipper) as Contract;
    await expect(asFlipper.withdrawStake(id)).to.be.revertedWithCustomError(stakes, "NotUnbonding").withArgs(id, flipper.address);
    await asFlipper.startUnbonding(id);
    const ends = await stakes.unbondingEnds(id, flipper.address);
    await expect(asFlipper.withdrawStake(id)).to.be.revertedWithCustomError(stakes, "StillUnbonding").withArgs(ends);
    await (stakes.connect(attester) as Contract).fileEvidence(id, flipper.address, ethers.id("e"));
    await networkHelpers.time.increaseTo(ends);
    await expect(asFlipper.withdrawStake(id)).to.be.revertedWithCustomError(stakes, "CasePending").withArgs(id, flipper.address, 0n);
    await expect((stakes.connect(attester) as Contract).fileEvidence(id, flipper.address, ethers.id("again"))).to.be.revertedWithCustomError(stakes, "CasePending");
  });

  it("an honest contributor unbonds and withdraws its stake after one window", async () => {
    const { other, stakes, id } = await networkHelpers.loadFixture(deploy);
    const asOther = stakes.connect(other) as Contract;
    await asOther.startUnbonding(id);
    await networkHelpers.time.increase(WINDOW);
    await expect(asOther.withdrawStake(id)).to.changeEtherBalances(ethers, [other, stakes], [MIN_STAKE, -MIN_STAKE]);
    await expect(asOther.startUnbonding(id)).to.be.revertedWithCustomError(stakes, "NothingStaked");
  });

  it("refuses strangers' stakes, stakes below the minimum, empty evidence, non-attesters, the wrong challenger, late challenges and unknown cases", async () => {
    const { attester, flipper, honest, stranger, stakes, id, proofOf, stakeAs } = await networkHelpers.loadFixture(deploy);
    const p = proofOf(0);
    // a stranger presents the flipper's sample proof as its own: the leaf names the flipper
    await expect((stakes.connect(stranger) as Contract).stake(id, p.index, p.hash, p.proof, { value: MIN_STAKE }))
      .to.be.revertedWithCustomError(stakes, "NotContributor")
      .withArgs(id, stranger.address);
    const registry = await ethers.getContractAt("DatanetRegistry", await stakes.datanets());
    await expect(stakes.stake(ethers.id("unknown"), 0, p.hash, p.proof, { value: MIN_STAKE })).to.be.revertedWithCustomError(registry, "UnknownDatanet");
    const fresh = await ethers.deployContract("DataStakes", [stranger.address, await stakes.datanets(), await stakes.rewardPool(), MIN_STAKE, WINDOW, REPORTER_BPS, []]);
    const q = proofOf(1);
    await expect((fresh.connect(honest) as Contract).stake(id, q.index, q.hash, q.proof, { value: MIN_STAKE - 1n }))
      .to.be.revertedWithCustomError(fresh, "StakeTooSmall")
      .withArgs(MIN_STAKE - 1n, MIN_STAKE);
    await stakeAs(0, 1n); // topping up an existing stake: any amount
    const asAttester = stakes.connect(attester) as Contract;
    await expect(asAttester.fileEvidence(id, flipper.address, ethers.ZeroHash)).to.be.revertedWithCustomError(stakes, "EmptyEvidence");
    await expect((stakes.connect(stranger) as Contract).fileEvidence(id, flipper.address, ethers.id("e")))
      .to.be.revertedWithCustomError(stakes, "AccessControlUnauthorizedAccount")
      .withArgs(stranger.address, await stakes.ATTESTER_ROLE());
    await asAttester.fileEvidence(id, flipper.address, ethers.id("e"));
    await expect((stakes.connect(honest) as Contract).challenge(0, ethers.id("x")))
      .to.be.revertedWithCustomError(stakes, "NotAccused")
      .withArgs(0n, honest.address);
    const deadline = (await stakes.caseOf(0)).deadline;
    await networkHelpers.time.increaseTo(deadline + 1n);
    await expect((stakes.connect(flipper) as Contract).challenge(0, ethers.id("x")))
      .to.be.revertedWithCustomError(stakes, "WindowClosed")
      .withArgs(0n, deadline);
    await expect(stakes.decide(0, true, ethers.ZeroHash))
      .to.be.revertedWithCustomError(stakes, "WrongStatus")
      .withArgs(0n, 1);
    await expect(stakes.caseOf(9)).to.be.revertedWithCustomError(stakes, "UnknownCase").withArgs(9n);
    expect(await stakes.caseCount()).to.equal(1n);
  });

  it("refuses bad terms at deployment", async () => {
    const [admin] = await ethers.getSigners();
    const f = await ethers.getContractFactory("DataStakes");
    const d = await ethers.deployContract("DatanetRegistry");
    const pool = await ethers.deployContract("RewardDistributor", [admin.address]);
    const deployWith = (minStake: bigint, window: bigint, bps: bigint, a = admin.address) => ethers.deployContract("DataStakes", [a, d, pool, minStake, window, bps, []]);
    await expect(deployWith(0n, WINDOW, 1000n))
      .to.be.revertedWithCustomError(f, "BadParameter")
      .withArgs("minStake");
    await expect(deployWith(1n, 0n, 1000n))
      .to.be.revertedWithCustomError(f, "BadParameter")
      .withArgs("challengeWindow");
    await expect(deployWith(1n, WINDOW, 10_001n))
      .to.be.revertedWithCustomError(f, "BadParameter")
      .withArgs("reporterShareBps");
    await expect(deployWith(1n, WINDOW, 1000n, ethers.ZeroAddress))
      .to.be.revertedWithCustomError(f, "BadParameter")
      .withArgs("address");
  });
});
