import { expect } from "chai";
import type { Contract } from "ethers";
import { network } from "hardhat";

const { ethers, networkHelpers } = await network.create();

async function deploy() {
  const [owner, stranger] = await ethers.getSigners();
  const registry = (await ethers.deployContract("ResultsRegistry")) as unknown as Contract;
  return { owner, stranger, registry };
}

describe("ResultsRegistry", () => {
  it("attack: a stranger settles a run id first; the owner's settlement of the same id still succeeds, each under its own account", async () => {
    const { owner, stranger, registry } = await networkHelpers.loadFixture(deploy);
    const runId = ethers.id("20261206T120000Z-05");
    await (registry.connect(stranger) as Contract).settle(runId, ethers.id("05"), ethers.id("forged results"), [], []);
    await expect(registry.settle(runId, ethers.id("05"), ethers.id("results"), ["auc"], [910_000n]))
      .to.emit(registry, "RunSettled")
      .withArgs(runId, ethers.id("05"), ethers.id("results"), owner.address, ["auc"], [910_000n]);
    expect((await registry.runOf(owner.address, runId)).resultsSha256).to.equal(ethers.id("results"));
    expect((await registry.runOf(stranger.address, runId)).resultsSha256).to.equal(ethers.id("forged results"));
    await expect(registry.settle(runId, ethers.id("05"), ethers.id("again"), [], []))
      .to.be.revertedWithCustomError(registry, "RunAlreadySettled")
      .withArgs(owner.address, runId);
  });

  it("refuses an empty results hash and figures without values", async () => {
    const { registry } = await networkHelpers.loadFixture(deploy);
    await expect(registry.settle(ethers.id("r"), ethers.id("n"), ethers.ZeroHash, [], [])).to.be.revertedWithCustomError(registry, "EmptyResultsHash");
    await expect(registry.settle(ethers.id("r"), ethers.id("n"), ethers.id("x"), ["a", "b"], [1n]))
      .to.be.revertedWithCustomError(registry, "FigureLengthMismatch")
      .withArgs(2n, 1n);
    expect((await registry.runOf(ethers.ZeroAddress, ethers.id("r"))).recordedAt).to.equal(0n);
  });
});
