// The DA contracts on L1: an OperatorRegistry filled with the operator set, and an
// EigenDACertVerifier over it. checkCert() is what the proxy and derivation call: an eth_call of
// checkDACert, which returns a status code and never reverts.
import { type Contract, ContractFactory, type Signer } from "ethers";
import { artifact } from "../chain/contracts.js";
import type { SecurityThresholds, VersionedBlobParams } from "./blob-params.js";
import { g1ToAffine } from "./bn254.js";
import type { Operator } from "./operators.js";

/** EigenDACertVerifier.StatusCode. */
export const CERT_STATUS = { NULL_ERROR: 0, SUCCESS: 1, INVALID_CERT: 6, INTERNAL_ERROR: 7 } as const;

export interface DAContracts {
  registry: Contract;
  verifier: Contract;
}

export interface DeployDAOptions {
  operators: readonly Operator[];
  quorums: readonly number[];
  /** Blob parameters by version (index = version). */
  blobParams: readonly VersionedBlobParams[];
  thresholds: SecurityThresholds;
  quorumNumbersRequired: readonly number[];
}

async function deploy(name: string, signer: Signer, args: unknown[]): Promise<Contract> {
  const a = artifact(name);
  const c = await new ContractFactory(a.abi, a.bytecode, signer).deploy(...args);
  await c.waitForDeployment();
  return c as Contract;
}

/** Deploys the registry, registers every operator's key and stakes, and deploys the verifier. */
export async function deployDAContracts(signer: Signer, o: DeployDAOptions): Promise<DAContracts> {
  const registry = await deploy("OperatorRegistry", signer, []);
  for (const op of o.operators) {
    const pk = g1ToAffine(op.key.pubkeyG1);
    const quorums = o.quorums.filter((q) => (op.stakes.get(q) ?? 0n) > 0n);
    const tx = await registry.getFunction("registerOperator")(
      { X: pk.x, Y: pk.y },
      quorums,
      quorums.map((q) => op.stakes.get(q)!),
    );
    await tx.wait();
  }
  const verifier = await deploy("EigenDACertVerifier", signer, [
    await registry.getAddress(),
    o.blobParams.map((p) => [p.maxNumOperators, p.numChunks, p.codingRate]),
    [o.thresholds.confirmationThreshold, o.thresholds.adversaryThreshold],
    Uint8Array.from(o.quorumNumbersRequired),
  ]);
  return { registry, verifier };
}

export interface CertCheck {
  status: number;
  /** Gas an eth_estimateGas of checkDACert reports. */
  gas?: bigint;
}

/** Calls checkDACert on the verifier; `withGas` also estimates its gas. */
export async function checkCert(verifier: Contract, cert: Uint8Array, withGas = false): Promise<CertCheck> {
  const status = Number(await verifier.getFunction("checkDACert").staticCall(cert));
  const gas = withGas ? await verifier.getFunction("checkDACert").estimateGas(cert) : undefined;
  return { status, gas };
}
