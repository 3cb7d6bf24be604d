import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { type BaseContract, Contract, ContractFactory, type ContractRunner, dataLength, type ErrorDescription, type InterfaceAbi, isError, keccak256, type Signer } from "ethers";
import { fromRoot, readJson, sha256Hex, writeJsonAtomic } from "../files.js";
import type { LabChain } from "./connect.js";
import type { ConstructorArguments, ContractName, FunctionArguments, FunctionName, LabContract } from "./contract-types.js";
import { ContractArtifactMissingError } from "./errors.js";

export interface Artifact {
  contractName: string;
  sourceName: string;
  abi: InterfaceAbi;
  bytecode: string;
  deployedBytecode: string;
}

function findArtifactFile(dir: string, name: string): string | undefined {
  if (!existsSync(dir)) return undefined;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      const found = findArtifactFile(path, name);
      if (found) return found;
    } else if (entry.name === `${name}.json` && !dir.includes(`${join("artifacts", "build-info")}`)) {
      return path;
    }
  }
  return undefined;
}

const artifactCache = new Map<string, Artifact>();

/** The compiled artifact of a contract of this project (from `npx hardhat compile`). */
export function artifact(name: ContractName): Artifact {
  const cached = artifactCache.get(name);
  if (cached) return cached;
  const file = findArtifactFile(fromRoot("artifacts", "contracts"), name);
  if (!file) {
    throw new ContractArtifactMissingError({
      code: "chain/artifact-missing",
      message: `no compiled artifact for contract ${name}`,
      hint: "compile the contracts with `./lab setup` (or `npx hardhat compile`); check the contract name matches its .sol file",
      fields: { contract: name },
    });
  }
  const a = readJson<Artifact>(file);
  artifactCache.set(name, a);
  return a;
}

/**
 * Contract N at this address, typed by its ABI (lib/chain/contract-types.ts). The one place the
 * ABI's types are attached to ethers' contract object, whose methods ethers builds at run time
 * from the same ABI.
 */
export function contractAt<N extends ContractName>(name: N, address: string, runner?: ContractRunner | null): LabContract<N> {
  return new Contract(address, artifact(name).abi, runner) as BaseContract as LabContract<N>;
}

/** The same contract with another runner (a signer to send from, another chain's provider to read). */
export function connectContract<N extends ContractName>(name: N, contract: LabContract<N>, runner: ContractRunner | null): LabContract<N> {
  return contractAt(name, contractAddress(contract), runner);
}

/** The address of a contract built by contractAt or deployed here (always a string: ethers keeps what it was given). */
export function contractAddress(contract: BaseContract): string {
  return contract.target as string;
}

/** The calldata of `contract.fn(...args)`, typed by the ABI, for a transaction signed elsewhere. */
export function encodeCall<N extends ContractName, F extends FunctionName<N>>(contract: LabContract<N>, fn: F, args: FunctionArguments<N, F>): string {
  return contract.interface.encodeFunctionData(fn, args);
}

/** Constructor arguments as a rest parameter: optional for a contract whose constructor takes none. */
export type DeployArguments<N extends ContractName> = ConstructorArguments<N> extends [] ? [args?: []] : [args: ConstructorArguments<N>];

/** The deployment transaction's data of contract N (bytecode and encoded constructor arguments). */
export async function deploymentData<N extends ContractName>(name: N, ...[args]: DeployArguments<N>): Promise<string> {
  const art = artifact(name);
  return (await new ContractFactory(art.abi, art.bytecode).getDeployTransaction(...(args ?? []))).data;
}

/** A fresh deployment of contract N from `signer`, mined before it returns. */
export async function deployContract<N extends ContractName>(name: N, signer: Signer, ...[args]: DeployArguments<N>): Promise<LabContract<N>> {
  const art = artifact(name);
  const deployed = await new ContractFactory(art.abi, art.bytecode, signer).deploy(...(args ?? []));
  await deployed.waitForDeployment();
  return contractAt(name, await deployed.getAddress(), signer);
}

interface DeploymentRecord {
  address: string;
  bytecodeHash: string;
  args: string;
  runtimeHash: string;
}

function deploymentsFile(): string {
  return fromRoot(".lab", "deployments.json");
}

const sessionDeployments = new WeakMap<LabChain, Map<string, DeploymentRecord>>();

function argsKey(args: unknown[]): string {
  return JSON.stringify(args, (_, v) => (typeof v === "bigint" ? `${v}n` : v));
}

/** A hex digest as a bytes32 argument: "0x"-prefixed (digests are stored without the prefix). */
export function bytes32Hex(h: string): string {
  return h.startsWith("0x") ? h : `0x${h}`;
}

/**
 * The named contract on this chain: the one deployed earlier with the same bytecode and
 * constructor arguments when its code is still there, else a fresh deployment. Deployments on
 * RPC chains are remembered in .lab/deployments.json, keyed by chain id and genesis hash (a
 * restarted `hardhat node` has the same id but new state).
 */
export async function deployOrReuse<N extends ContractName>(chain: LabChain, name: N, ...[given]: DeployArguments<N>): Promise<LabContract<N>> {
  const args: unknown[] = given ?? [];
  const art = artifact(name);
  const bytecodeHash = sha256Hex(art.bytecode);
  const genesis = (await chain.provider.getBlock(0))?.hash ?? "unknown";
  const chainKey = `${chain.chainId}:${genesis}`;
  const key = `${name}:${argsKey(args)}`;
  const persistent = chain.kind === "rpc";
  const stored: Record<string, Record<string, DeploymentRecord>> = persistent && existsSync(deploymentsFile()) ? readJson(deploymentsFile()) : {};
  let session = sessionDeployments.get(chain);
  if (!session) {
    session = new Map();
    sessionDeployments.set(chain, session);
  }
  const previous = session.get(key) ?? stored[chainKey]?.[key];
  if (previous && previous.bytecodeHash === bytecodeHash) {
    const code = await chain.provider.getCode(previous.address);
    if (code !== "0x" && keccak256(code) === previous.runtimeHash) {
      return contractAt(name, previous.address, chain.signer);
    }
  }
  const factory = new ContractFactory(art.abi, art.bytecode, chain.signer);
  const contract = await factory.deploy(...args);
  await contract.waitForDeployment();
  const address = await contract.getAddress();
  const record: DeploymentRecord = { address, bytecodeHash, args: argsKey(args), runtimeHash: keccak256(await chain.provider.getCode(address)) };
  session.set(key, record);
  if (persistent) {
    stored[chainKey] = { ...stored[chainKey], [key]: record };
    writeJsonAtomic(deploymentsFile(), stored);
  }
  return contractAt(name, address, chain.signer);
}

/**
 * The custom error a reverted call carries, decoded with the contract's ABI (undefined for a revert
 * with no data or an error the ABI does not declare). Anything that is not a revert (an endpoint
 * that does not answer, a refused signature) is rethrown: a failure to ask is never read as "no".
 */
export function revertedWith(contract: Pick<BaseContract, "interface">, error: unknown): ErrorDescription | undefined {
  if (!isError(error, "CALL_EXCEPTION")) throw error;
  // a selector is 4 bytes: a bare revert ("0x") names no error
  return error.data && dataLength(error.data) >= 4 ? (contract.interface.parseError(error.data) ?? undefined) : undefined;
}
