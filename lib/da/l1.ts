// The DA contracts on L1: an OperatorRegistry filled with the operator set, and an
// EigenDACertVerifier over it. checkCert() is what the proxy and derivation call: an eth_call of
// checkDACert, which returns a status code and never reverts.
import type { Signer } from "ethers";
import type { LabContract } from "../chain/contract-types.js";
import { deployContract } from "../chain/contracts.js";
import type { SecurityThresholds, VersionedBlobParams } from "./blob-params.js";
import { g1ToAffine } from "./bn254.js";
import type { Operator } from "./operators.js";

/** EigenDACertVerifier.StatusCode. */
export const CERT_STATUS = { NULL_ERROR: 0, SUCCESS: 1, INVALID_CERT: 6, INTERNAL_ERROR: 7 } as const;

export interface DAContracts {
  registry: LabContract<"OperatorRegistry">;
  verifier: LabContract<"EigenDACertVerifier">;
}

export interface DeployDAOptions {
  operators: readonly Operator[];
  quorums: readonly number[];
  /** Blob parameters by version (index = version). */
  blobParams: readonly VersionedBlobParams[];
  thresholds: SecurityThresholds;
  quorumNumbersRequired: readonly number[];
}

/** Deploys the registry, registers every operator's key and stakes, and deploys the verifier. */
export async function deployDAContracts(signer: Signer, o: DeployDAOptions): Promise<DAContracts> {
  const registry = await deployContract("OperatorRegistry", signer);
  for (const op of o.operators) {
    const pk = g1ToAffine(op.key.pubkeyG1);
    const quorums = o.quorums.filter((q) => (op.stakes.get(q) ?? 0n) > 0n);
    const tx = await registry.registerOperator(
      { X: pk.x, Y: pk.y },
      quorums,
      quorums.map((q) => op.stakes.get(q)!),
    );
    await tx.wait();
  }
  const verifier = await deployContract("EigenDACertVerifier", signer, [
    await registry.getAddress(),
    o.blobParams.map((p) => ({ maxNumOperators: p.maxNumOperators, numChunks: p.numChunks, codingRate: p.codingRate })),
    { confirmationThreshold: o.thresholds.confirmationThreshold, adversaryThreshold: o.thresholds.adversaryThreshold },
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
export async function checkCert(verifier: LabContract<"EigenDACertVerifier">, cert: Uint8Array, withGas = false): Promise<CertCheck> {
  const status = Number(await verifier.checkDACert(cert));
  const gas = withGas ? await verifier.checkDACert.estimateGas(cert) : undefined;
  return { status, gas };
}
