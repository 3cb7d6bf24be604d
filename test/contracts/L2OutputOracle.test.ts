import { expect } from "chai";
import { network } from "hardhat";
import { outputRootV0 } from "../../lib/ledger/output-root.js";

const INTERVAL = 10;
const L2_BLOCK_TIME = 2;
const WINDOW = 7 * 24 * 3600; // the OP Stack's 7-day finalization period

describe("L2OutputOracle", () => {
  async function deploy() {
    const { ethers, networkHelpers } = await network.create();
    const [deployer, proposer, challenger, stranger] = await ethers.getSigners();
    const now = await networkHelpers.time.latest();
    const startingTimestamp = now - 1000; // the L2 genesis lies in the past of L1
    const oracle = await ethers.deployContract("L2OutputOracle", [INTERVAL, L2_BLOCK_TIME, 0, startingTimestamp, proposer!.address, challenger!.address, WINDOW], deployer);
    const root = (n: number) => outputRootV0({ stateRoot: ethers.id(`state ${n}`), messagePasserStorageRoot: ethers.id("mp"), blockHash: ethers.id(`block ${n}`) });
    return { ethers, networkHelpers, oracle, proposer: proposer!, challenger: challenger!, stranger: stranger!, startingTimestamp, root };
  }

  it("accepts proposals only from the proposer, at the submission interval, for past L2 blocks", async () => {
    const { oracle, proposer, stranger, root } = await deploy();
    const zero = `0x${"00".repeat(32)}`;
    await expect(oracle.connect(stranger).getFunction("proposeL2Output")(root(10), 10, zero, 0)).to.be.revertedWithCustomError(oracle, "NotProposer");
    await expect(oracle.connect(proposer).getFunction("proposeL2Output")(root(11), 11, zero, 0)).to.be.revertedWithCustomError(oracle, "WrongBlockNumber");
    await expect(oracle.connect(proposer).getFunction("proposeL2Output")(zero, 10, zero, 0)).to.be.revertedWithCustomError(oracle, "EmptyOutputRoot");
    await expect(oracle.connect(proposer).getFunction("proposeL2Output")(root(10), 10, zero, 0)).to.emit(oracle, "OutputProposed");
    expect(await oracle.getFunction("nextBlockNumber")()).to.equal(20n);
    await expect(oracle.getFunction("getL2Output")(5)).to.be.revertedWithCustomError(oracle, "NoOutput").withArgs(5n);
    // An L2 block whose timestamp L1 time has not reached yet cannot be proposed.
    const { ethers, networkHelpers } = await network.create();
    const [, p2, c2] = await ethers.getSigners();
    const future = await ethers.deployContract("L2OutputOracle", [INTERVAL, L2_BLOCK_TIME, 0, (await networkHelpers.time.latest()) + 1000, p2!.address, c2!.address, WINDOW]);
    await expect(future.connect(p2!).getFunction("proposeL2Output")(root(10), 10, zero, 0)).to.be.revertedWithCustomError(future, "L2BlockInFuture");
    await networkHelpers.time.increase(1100);
    await expect(future.connect(p2!).getFunction("proposeL2Output")(root(10), 10, zero, 0)).to.not.revert(ethers);
    await expect(ethers.deployContract("L2OutputOracle", [0, L2_BLOCK_TIME, 0, 0, p2!.address, c2!.address, WINDOW])).to.be.revertedWithCustomError(future, "ZeroInterval");
  });

  it("binds a proposal to the L1 block hash the proposer saw", async () => {
    const { ethers, oracle, proposer, root } = await deploy();
    const head = await ethers.provider.getBlock("latest");
    await expect(oracle.connect(proposer).getFunction("proposeL2Output")(root(10), 10, ethers.id("other chain"), head!.number)).to.be.revertedWithCustomError(oracle, "L1BlockHashMismatch");
    await expect(oracle.connect(proposer).getFunction("proposeL2Output")(root(10), 10, head!.hash, head!.number)).to.not.revert(ethers);
  });

  it("lets the challenger delete a wrong output and every later one inside the window", async () => {
    const { oracle, proposer, challenger, stranger, root } = await deploy();
    const zero = `0x${"00".repeat(32)}`;
    for (const n of [10, 20, 30]) await oracle.connect(proposer).getFunction("proposeL2Output")(n === 20 ? root(999) : root(n), n, zero, 0);
    await expect(oracle.connect(stranger).getFunction("deleteL2Outputs")(1)).to.be.revertedWithCustomError(oracle, "NotChallenger");
    await expect(oracle.connect(challenger).getFunction("deleteL2Outputs")(1)).to.emit(oracle, "OutputsDeleted").withArgs(3, 1);
    expect(await oracle.getFunction("nextOutputIndex")()).to.equal(1n);
    expect(await oracle.getFunction("nextBlockNumber")()).to.equal(20n);
    await oracle.connect(proposer).getFunction("proposeL2Output")(root(20), 20, zero, 0);
    expect((await oracle.getFunction("getL2Output")(1)).outputRoot).to.equal(root(20));
  });

  it("finalizes an output exactly when the finalization period has passed", async () => {
    const { networkHelpers, oracle, proposer, challenger, root } = await deploy();
    const zero = `0x${"00".repeat(32)}`;
    await oracle.connect(proposer).getFunction("proposeL2Output")(root(10), 10, zero, 0);
    const proposedAt = Number((await oracle.getFunction("getL2Output")(0)).timestamp);
    await networkHelpers.time.increaseTo(proposedAt + WINDOW - 2);
    expect(await oracle.getFunction("isFinalized")(0)).to.equal(false);
    await networkHelpers.time.increaseTo(proposedAt + WINDOW);
    expect(await oracle.getFunction("isFinalized")(0)).to.equal(true);
    await expect(oracle.connect(challenger).getFunction("deleteL2Outputs")(0)).to.be.revertedWithCustomError(oracle, "OutputFinalized");
  });
});
