// What the contract tests share: the economics contracts deployed as the loop wires them, and a
// datanet's id and registration as the lab makes them. Loaded by the contract test runner like every file
// here; it declares no tests.
import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { AbiCoder, type Contract, keccak256 } from "ethers";

export interface EconomicsParams {
  /** InferenceReceipts' share of each fee for the data's contributors, in basis points. */
  dataBps: bigint | number;
  /** DataStakes' minimum stake (wei), challenge window (seconds) and reporter's share (basis points). */
  minStake: bigint;
  window: bigint | number;
  reporterBps: bigint | number;
  /** Accounts DataStakes lets post evidence. */
  attesters: string[];
}

/** Fees (InferenceReceipts) and slashed stakes (DataStakes) fund the RewardDistributor's pool; `admin` holds every admin role. */
export async function deployEconomics(ethers: HardhatEthers, admin: string, p: EconomicsParams) {
  const distributor = (await ethers.deployContract("RewardDistributor", [admin])) as unknown as Contract;
  const receipts = (await ethers.deployContract("InferenceReceipts", [admin, await distributor.getAddress(), p.dataBps, []])) as unknown as Contract;
  const datanets = (await ethers.deployContract("DatanetRegistry")) as unknown as Contract;
  const stakes = (await ethers.deployContract("DataStakes", [
    admin,
    await datanets.getAddress(),
    await distributor.getAddress(),
    p.minStake,
    p.window,
    p.reporterBps,
    p.attesters,
  ])) as unknown as Contract;
  return { distributor, receipts, datanets, stakes };
}

/** A sample's leaf in the lab's layout: (index, contributor, sample hash). */
export type SampleLeaf = [number, string, string];

/**
 * A datanet's id: keccak256(abi.encode(name, root)), computed here apart from lib/ so the contracts
 * are held to the layout itself.
 */
export function datanetIdOf(name: string, root: string): string {
  return keccak256(AbiCoder.defaultAbiCoder().encode(["string", "bytes32"], [name, root]));
}

/** Registers a datanet of `leaves` under `name`, as the lab does (its id: datanetIdOf). */
export async function registerDatanet(datanets: Contract, d: { name: string; leaves: SampleLeaf[]; manifestHash: string; contributors: string[]; samples: bigint[] }) {
  const tree = StandardMerkleTree.of(d.leaves, ["uint256", "address", "bytes32"]);
  const id = datanetIdOf(d.name, tree.root);
  await datanets.registerDatanet(id, d.name, tree.root, d.manifestHash, d.contributors, d.samples);
  return { tree, id };
}
