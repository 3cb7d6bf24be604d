import { expect } from "chai";
import type { Contract } from "ethers";
import { network } from "hardhat";
import { buildRewardTree } from "../../lib/attribution/payouts.js";
import { datanetIdOf, deployEconomics, registerDatanet } from "./contract-fixtures.js";

const { ethers, networkHelpers } = await network.create();

const ACCEPT = 0;
const REENTER = 1;
const REFUSE = 2;
const STAKE = 10n ** 16n;
const WINDOW = 60n;

/**
 * Every contract that pays out, with a hostile receiver (HostileReceiver.sol) placed as the payee:
 * a leaf's account, a model owner, a staking contributor and a reporter.
 */
async function deploy() {
  const [admin, customer, honest] = await ethers.getSigners();
  const hostile = (await ethers.deployContract("HostileReceiver")) as unknown as Contract;
  const hostileAddress = await hostile.getAddress();
  const { distributor, receipts, datanets, stakes } = await deployEconomics(ethers, admin!.address, {
    dataBps: 5000,
    minStake: STAKE,
    window: WINDOW,
    reporterBps: 1000,
    attesters: [hostileAddress],
  });
  // a datanet whose first contributor is the hostile contract
  const { tree, id: datanetId } = await registerDatanet(datanets, {
    name: "hostile-net",
    leaves: [
      [0, hostileAddress, ethers.id("h0")],
      [1, honest!.address, ethers.id("s1")],
    ],
    manifestHash: ethers.id("m"),
    contributors: [hostileAddress, honest!.address],
    samples: [1n, 1n],
  });
  /** hostile.act(target, calldata, value): the hostile contract calls as itself. */
  const act = async (target: Contract, fn: string, args: unknown[], value = 0n) => hostile.act(await target.getAddress(), target.interface.encodeFunctionData(fn, args), value, { value });
  const arm = async (mode: number, target: Contract, fn: string, args: unknown[]) => (await hostile.arm(mode, await target.getAddress(), target.interface.encodeFunctionData(fn, args))).wait();
  const reentryError = async (c: Contract) => c.interface.parseError(await hostile.lastReentryError())?.name;
  return { admin: admin!, customer: customer!, honest: honest!, hostile, hostileAddress, distributor, receipts, datanets, stakes, tree, datanetId, act, arm, reentryError };
}

describe("Adversarial: a hostile receiver on every paying function", () => {
  it("RewardDistributor.claim: re-entering claim from the payment is refused; the leaf is paid once; a refusing receiver gets NativeTransferFailed", async () => {
    const { hostile, hostileAddress, distributor, arm, reentryError } = await networkHelpers.loadFixture(deploy);
    const [, , , bob] = await ethers.getSigners();
    const t = buildRewardTree(
      new Map([
        [hostileAddress, 700n],
        [bob!.address, 300n],
      ]),
    );
    await distributor.createEpoch(t.root, ethers.ZeroAddress, t.total, ethers.ZeroHash, { value: t.total });
    const p = t.proofOf(hostileAddress);
    await arm(REFUSE, distributor, "claim", [0, hostileAddress, p.amount, p.proof]);
    await expect(distributor.claim(0, hostileAddress, p.amount, p.proof))
      .to.be.revertedWithCustomError(distributor, "NativeTransferFailed")
      .withArgs(hostileAddress, 700n);
    await arm(REENTER, distributor, "claim", [0, hostileAddress, p.amount, p.proof]);
    await expect(distributor.claim(0, hostileAddress, p.amount, p.proof)).to.changeEtherBalances(ethers, [hostile, distributor], [700n, -700n]);
    expect(await hostile.reentryAttempts()).to.equal(1n);
    expect(await hostile.lastReentrySucceeded()).to.equal(false);
    expect(await reentryError(distributor)).to.equal("ReentrancyGuardReentrantCall");
    expect((await distributor.epoch(0)).claimed).to.equal(700n);
  });

  it("InferenceReceipts.withdraw: re-entering withdraw is refused; the owner's share is paid once; a refusing owner gets NativeTransferFailed", async () => {
    const { customer, hostile, hostileAddress, receipts, act, arm, reentryError } = await networkHelpers.loadFixture(deploy);
    await act(receipts, "registerModel", [ethers.id("m"), 10n]);
    const key = await receipts.modelKeyOf(hostileAddress, ethers.id("m"));
    await (receipts.connect(customer) as Contract).recordInference(key, ethers.ZeroHash, ethers.ZeroHash, 60, 40, { value: 1000n });
    expect(await receipts.owed(hostileAddress)).to.equal(500n);
    await arm(REFUSE, receipts, "withdraw", []);
    await expect(act(receipts, "withdraw", []))
      .to.be.revertedWithCustomError(receipts, "NativeTransferFailed")
      .withArgs(hostileAddress, 500n);
    await arm(REENTER, receipts, "withdraw", []);
    await expect(act(receipts, "withdraw", [])).to.changeEtherBalances(ethers, [hostile, receipts], [500n, -500n]);
    expect(await reentryError(receipts)).to.equal("ReentrancyGuardReentrantCall");
    expect(await receipts.totalOwed()).to.equal(0n);
  });

  it("DataStakes.withdrawStake and withdrawReward: re-entry refused, each paid once; refusing receivers get NativeTransferFailed", async () => {
    const { hostile, hostileAddress, stakes, tree, datanetId, honest, act, arm, reentryError } = await networkHelpers.loadFixture(deploy);
    await act(stakes, "stake", [datanetId, 0, ethers.id("h0"), tree.getProof(0)], STAKE);
    await act(stakes, "startUnbonding", [datanetId]);
    await networkHelpers.time.increase(WINDOW);
    await arm(REFUSE, stakes, "withdrawStake", [datanetId]);
    await expect(act(stakes, "withdrawStake", [datanetId]))
      .to.be.revertedWithCustomError(stakes, "NativeTransferFailed")
      .withArgs(hostileAddress, STAKE);
    await arm(REENTER, stakes, "withdrawStake", [datanetId]);
    await expect(act(stakes, "withdrawStake", [datanetId])).to.changeEtherBalances(ethers, [hostile, stakes], [STAKE, -STAKE]);
    expect(await reentryError(stakes)).to.equal("ReentrancyGuardReentrantCall");
    // the hostile contract as reporter: evidence against the honest contributor, slashed, reward withdrawn
    await (stakes.connect(honest) as Contract).stake(datanetId, 1, ethers.id("s1"), tree.getProof(1), { value: STAKE });
    await act(stakes, "fileEvidence", [datanetId, honest.address, ethers.id("e")]);
    await networkHelpers.time.increase(WINDOW + 1n);
    await stakes.slash(0);
    await arm(REFUSE, stakes, "withdrawReward", []);
    await expect(act(stakes, "withdrawReward", []))
      .to.be.revertedWithCustomError(stakes, "NativeTransferFailed")
      .withArgs(hostileAddress, STAKE / 10n);
    await arm(REENTER, stakes, "withdrawReward", []);
    await expect(act(stakes, "withdrawReward", [])).to.changeEtherBalances(ethers, [hostile, stakes], [STAKE / 10n, -STAKE / 10n]);
    expect(await reentryError(stakes)).to.equal("ReentrancyGuardReentrantCall");
    expect(await ethers.provider.getBalance(await stakes.getAddress())).to.equal(0n);
  });

  it("a receiver that accepts is simply paid (the hostile contract itself is no obstacle)", async () => {
    const { hostile, hostileAddress, distributor, arm } = await networkHelpers.loadFixture(deploy);
    const t = buildRewardTree(new Map([[hostileAddress, 5n]]));
    await distributor.createEpoch(t.root, ethers.ZeroAddress, t.total, ethers.ZeroHash, { value: t.total });
    await arm(ACCEPT, distributor, "epochCount", []);
    const p = t.proofOf(hostileAddress);
    await expect(distributor.claim(0, hostileAddress, p.amount, p.proof)).to.changeEtherBalance(ethers, hostile, 5n);
  });
});

describe("Adversarial: front-running", () => {
  it("a datanet id taken first with another root: refused with WrongDatanetId", async () => {
    const { datanets, honest } = await networkHelpers.loadFixture(deploy);
    const name = "fmnist-low-contrast";
    const root = ethers.id("the real root");
    const id = datanetIdOf(name, root);
    const squat = ethers.id("a squatter's root");
    await expect((datanets.connect(honest) as Contract).registerDatanet(id, name, squat, ethers.ZeroHash, [honest.address], [1n]))
      .to.be.revertedWithCustomError(datanets, "WrongDatanetId")
      .withArgs(id, datanetIdOf(name, squat));
  });

  it("the reward pool opens epochs only for its owner and never for more than it holds", async () => {
    const { distributor, honest } = await networkHelpers.loadFixture(deploy);
    await expect(distributor.fundRewardPool({ value: 0n })).to.be.revertedWithCustomError(distributor, "ZeroTotal");
    await (distributor.connect(honest) as Contract).fundRewardPool({ value: 100n });
    await expect((distributor.connect(honest) as Contract).createEpochFromPool(ethers.id("r"), 100n, ethers.ZeroHash))
      .to.be.revertedWithCustomError(distributor, "OwnableUnauthorizedAccount")
      .withArgs(honest.address);
    await expect(distributor.createEpochFromPool(ethers.id("r"), 101n, ethers.ZeroHash))
      .to.be.revertedWithCustomError(distributor, "ExceedsRewardPool")
      .withArgs(101n, 100n);
    await expect(distributor.createEpochFromPool(ethers.ZeroHash, 1n, ethers.ZeroHash)).to.be.revertedWithCustomError(distributor, "ZeroRoot");
    await expect(distributor.createEpochFromPool(ethers.id("r"), 0n, ethers.ZeroHash)).to.be.revertedWithCustomError(distributor, "ZeroTotal");
    await expect(distributor.createEpochFromPool(ethers.id("r"), 100n, ethers.ZeroHash)).to.emit(distributor, "EpochCreated");
    expect(await distributor.rewardPool()).to.equal(0n);
  });
});
