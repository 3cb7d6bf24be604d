import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { expect } from "chai";
import { network } from "hardhat";
import { datanetIdOf } from "./contract-fixtures.js";

const { ethers } = await network.create();

/** A small manifest in the lab's leaf layout: (index, contributor, sampleHash). */
function manifest(contributors: string[]) {
  const leaves: Array<[number, string, string]> = [];
  for (let i = 0; i < 9; i++) leaves.push([i, contributors[i % contributors.length], ethers.id(`sample ${i}`)]);
  const tree = StandardMerkleTree.of(leaves, ["uint256", "address", "bytes32"]);
  const id = datanetIdOf("fmnist-test", tree.root);
  return { leaves, tree, id };
}

async function deploy() {
  const [curator, alice, bob, carol] = await ethers.getSigners();
  const datanets = await ethers.deployContract("DatanetRegistry");
  const models = await ethers.deployContract("ModelRegistry", [await datanets.getAddress()]);
  return { curator, alice, bob, carol, datanets, models };
}

describe("DatanetRegistry", () => {
  it("records a datanet, its contributors and Merkle root, and verifies sample proofs", async () => {
    const { curator, alice, bob, carol, datanets } = await deploy();
    const m = manifest([alice.address, bob.address, carol.address]);
    const manifestHash = ethers.id("manifest json");
    await expect(datanets.registerDatanet(m.id, "fmnist-test", m.tree.root, manifestHash, [alice.address, bob.address, carol.address], [3, 3, 3]))
      .to.emit(datanets, "DatanetRegistered")
      .withArgs(m.id, curator.address, m.tree.root, manifestHash, 9, "fmnist-test")
      .and.to.emit(datanets, "ContributorRecorded")
      .withArgs(m.id, bob.address, 3);
    expect(await datanets.contributorsOf(m.id)).to.deep.equal([alice.address, bob.address, carol.address]);
    expect(await datanets.samplesOf(m.id, carol.address)).to.equal(3n);
    const d = await datanets.datanet(m.id);
    expect(d.merkleRoot).to.equal(m.tree.root);
    expect(d.sampleCount).to.equal(9n);
    const [i, who, hash] = m.leaves[4];
    expect(await datanets.verifySample(m.id, i, who, hash, m.tree.getProof(4))).to.equal(true);
    // the same sample claimed by someone else, or a different sample, does not verify
    expect(await datanets.verifySample(m.id, i, carol.address === who ? alice.address : carol.address, hash, m.tree.getProof(4))).to.equal(false);
    expect(await datanets.verifySample(m.id, i, who, ethers.id("other"), m.tree.getProof(4))).to.equal(false);
  });

  it("refuses duplicates, empty roots, mismatched lists and unknown ids", async () => {
    const { alice, bob, datanets } = await deploy();
    const m = manifest([alice.address, bob.address]);
    const zero = ethers.ZeroHash;
    await expect(datanets.registerDatanet(m.id, "x", zero, zero, [alice.address], [1])).to.be.revertedWithCustomError(datanets, "EmptyMerkleRoot");
    await expect(datanets.registerDatanet(m.id, "x", m.tree.root, zero, [], [])).to.be.revertedWithCustomError(datanets, "NoContributors");
    await expect(datanets.registerDatanet(m.id, "x", m.tree.root, zero, [alice.address], [1, 2]))
      .to.be.revertedWithCustomError(datanets, "LengthMismatch")
      .withArgs(1, 2);
    await expect(datanets.registerDatanet(m.id, "x", m.tree.root, zero, [alice.address], [1]))
      .to.be.revertedWithCustomError(datanets, "WrongDatanetId")
      .withArgs(m.id, datanetIdOf("x", m.tree.root));
    await expect(datanets.registerDatanet(m.id, "fmnist-test", m.tree.root, zero, [alice.address, alice.address], [1, 2]))
      .to.be.revertedWithCustomError(datanets, "DuplicateContributor")
      .withArgs(alice.address);
    await expect(datanets.registerDatanet(m.id, "fmnist-test", m.tree.root, zero, [ethers.ZeroAddress], [1]))
      .to.be.revertedWithCustomError(datanets, "ZeroContributor")
      .withArgs(0);
    await expect(datanets.registerDatanet(m.id, "fmnist-test", m.tree.root, zero, [alice.address], [0])).to.be.revertedWithCustomError(datanets, "EmptyContribution");
    await datanets.registerDatanet(m.id, "fmnist-test", m.tree.root, zero, [alice.address, bob.address], [5, 4]);
    await expect(datanets.registerDatanet(m.id, "fmnist-test", m.tree.root, zero, [alice.address], [1]))
      .to.be.revertedWithCustomError(datanets, "DatanetAlreadyRegistered")
      .withArgs(m.id);
    await expect(datanets.datanet(ethers.id("nope"))).to.be.revertedWithCustomError(datanets, "UnknownDatanet");
  });
});

describe("ModelRegistry", () => {
  it("records base-model, adapter, spec and metrics hashes against registered datanets", async () => {
    const { curator, alice, bob, datanets, models } = await deploy();
    const m = manifest([alice.address, bob.address]);
    await datanets.registerDatanet(m.id, "fmnist-test", m.tree.root, ethers.id("m"), [alice.address, bob.address], [5, 4]);
    const [base, adapter, spec, metrics] = ["base", "adapter", "spec", "metrics"].map((s) => ethers.sha256(ethers.toUtf8Bytes(s)));
    const id = await models.modelIdOf(base, adapter, spec);
    expect(id).to.equal(ethers.keccak256(ethers.AbiCoder.defaultAbiCoder().encode(["bytes32", "bytes32", "bytes32"], [base, adapter, spec])));
    await expect(models.registerModel("fmnist-lora", base, adapter, [m.id], spec, metrics))
      .to.emit(models, "ModelRegistered")
      .withArgs(id, curator.address, base, adapter, spec, metrics, [m.id], "fmnist-lora");
    const rec = await models.model(id);
    expect([rec.baseModelHash, rec.adapterHash, rec.specHash, rec.metricsHash]).to.deep.equal([base, adapter, spec, metrics]);
    expect(await models.datanetsOf(id)).to.deep.equal([m.id]);
    await expect(models.registerModel("again", base, adapter, [m.id], spec, metrics)).to.be.revertedWithCustomError(models, "ModelAlreadyRegistered");
    await expect(models.registerModel("x", base, ethers.id("a2"), [ethers.id("unregistered")], spec, metrics)).to.be.revertedWithCustomError(models, "UnknownDatanet");
    await expect(models.registerModel("x", base, ethers.id("a2"), [], spec, metrics)).to.be.revertedWithCustomError(models, "NoDatanets");
    await expect(models.registerModel("x", ethers.ZeroHash, ethers.id("a2"), [m.id], spec, metrics))
      .to.be.revertedWithCustomError(models, "EmptyHash")
      .withArgs("baseModelHash");
  });
});
