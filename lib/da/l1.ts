// The DA contracts on L1: an OperatorRegistry filled with the operator set (each key with its
// proof of possession, as EigenLayer's BLSApkRegistry requires), and an EigenDACertVerifier over it. checkCert() is what the proxy and derivation call: an eth_call of
// checkDACert, which returns a status code and never reverts.
import { dataSlice, getAddress, type Signer } from "ethers";
import type { LabContract } from "../chain/contract-types.js";
import { deployContract } from "../chain/contracts.js";
import type { SecurityThresholds, VersionedBlobParams } from "./blob-params.js";
import type { BlsKeyPair } from "./bls.js";
import { g1FromAffine, g1ToAffine, g2ToAffine, mcl } from "./bn254.js";
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

/** The account an operator's key is registered to: the lab's operators have no L1 account of their own, so the low 20 bytes of their id. */
export function operatorAccount(operatorId: string): string {
  return getAddress(dataSlice(operatorId, 12));
}

/** G1 and G2 public keys and the proof of possession the registry checks, as its registerOperator takes them. */
export interface PubkeyRegistration {
  pubkey: { X: bigint; Y: bigint };
  pubkeyG2: { X: [bigint, bigint]; Y: [bigint, bigint] };
  possessionSignature: { X: bigint; Y: bigint };
}

/**
 * A key's registration for `operator`: the registry's registration message for that account
 * (pubkeyRegistrationMessageHash, read from the contract as EigenLayer operators read it from the
 * coordinator) signed with the secret key.
 */
export async function pubkeyRegistration(registry: LabContract<"OperatorRegistry">, key: BlsKeyPair, operator: string): Promise<PubkeyRegistration> {
  const h = await registry.pubkeyRegistrationMessageHash(operator);
  const sigma = g1ToAffine(mcl.mul(g1FromAffine({ x: h.X as bigint, y: h.Y as bigint }), key.secretKey));
  const pk = g1ToAffine(key.pubkeyG1);
  const pk2 = g2ToAffine(key.pubkeyG2);
  return { pubkey: { X: pk.x, Y: pk.y }, pubkeyG2: { X: pk2.x, Y: pk2.y }, possessionSignature: { X: sigma.x, Y: sigma.y } };
}

/** Deploys the registry (the signer its operator manager), registers every operator's key with its proof of possession and stakes, and deploys the verifier. */
export async function deployDAContracts(signer: Signer, o: DeployDAOptions): Promise<DAContracts> {
  const registry = await deployContract("OperatorRegistry", signer, [await signer.getAddress()]);
  for (const op of o.operators) {
    const account = operatorAccount(op.id);
    const r = await pubkeyRegistration(registry, op.key, account);
    const quorums = o.quorums.filter((q) => (op.stakes.get(q) ?? 0n) > 0n);
    const tx = await registry.registerOperator(
      account,
      r.pubkey,
      r.pubkeyG2,
      r.possessionSignature,
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
