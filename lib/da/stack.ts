// The whole DA stack wired up: an SRS, N operators registered on an L1 chain with the certificate
// verifier, the DA layer, the proxy on a local port, and the client, certificate checker and
// derivation source that the batcher and derivation use. One call for notebooks, tests and benches.

import { Wallet } from "ethers";
import type { LabChain } from "../chain/connect.js";
import { devPrivateKey } from "../chain/keys.js";
import { nextTurn, type OnProgress } from "../progress.js";
import { rng } from "../random.js";
import { AltDASource } from "./altda-source.js";
import { assertSecurityAssumptions, DEFAULT_SECURITY_THRESHOLDS, LAB_BLOB_PARAMS, type SecurityThresholds, type VersionedBlobParams } from "./blob-params.js";
import { initBn254 } from "./bn254.js";
import { checkCert, type DAContracts, deployDAContracts } from "./l1.js";
import { DALayer } from "./layer.js";
import { makeOperators, type Operator } from "./operators.js";
import type { PolynomialForm } from "./polynomial-form.js";
import { type CertChecker, DAProxyServer } from "./proxy.js";
import { DAProxyClient } from "./proxy-client.js";
import { insecureSrs, type Srs } from "./srs.js";

export interface DAStackOptions {
  seed: number;
  /** The L1 the verifier and registry are deployed on. */
  chain: LabChain;
  operators?: number;
  srs?: Srs;
  srsOrder?: number;
  params?: VersionedBlobParams;
  thresholds?: SecurityThresholds;
  quorums?: number[];
  /** How payloads become blobs; evaluation form (EigenDA's client default) unless told. */
  payloadForm?: PolynomialForm;
  /** Counts the set-up stages (DA_STACK_STAGES) as each ends. */
  onProgress?: OnProgress;
}

/** The stages of startDAStack, in order, as onProgress names them. */
export const DA_STACK_STAGES = ["BN254", "SRS", "operators' keys", "contracts on L1", "proxy"] as const;

export interface DAStack {
  srs: Srs;
  operators: Operator[];
  params: VersionedBlobParams;
  thresholds: SecurityThresholds;
  contracts: DAContracts;
  layer: DALayer;
  server: DAProxyServer;
  url: string;
  client: DAProxyClient;
  checkCert: CertChecker;
  /** A fresh derivation source (its own stats). */
  source(): AltDASource;
  close(): Promise<void>;
}

export async function startDAStack(o: DAStackOptions): Promise<DAStack> {
  const params = o.params ?? LAB_BLOB_PARAMS;
  const thresholds = o.thresholds ?? DEFAULT_SECURITY_THRESHOLDS;
  const quorums = o.quorums ?? [0, 1];
  assertSecurityAssumptions(params, thresholds);
  const ended = async (stage: (typeof DA_STACK_STAGES)[number]) => {
    if (!o.onProgress) return;
    o.onProgress(DA_STACK_STAGES.indexOf(stage) + 1, DA_STACK_STAGES.length, stage);
    await nextTurn(); // lets the progress line reach the notebook between synchronous stages
  };
  await initBn254();
  await ended("BN254");
  const srs = o.srs ?? (await insecureSrs(o.seed, o.srsOrder ?? 4096));
  await ended("SRS");
  const operators = makeOperators({ count: o.operators ?? 12, quorums, rng: rng(o.seed).fork("operators") });
  await ended("operators' keys");
  const contracts = await deployDAContracts(o.chain.signer, { operators, quorums, blobParams: [params], thresholds, quorumNumbersRequired: quorums });
  await ended("contracts on L1");
  const check: CertChecker = async (cert) => (await checkCert(contracts.verifier, cert)).status;
  const layer = new DALayer({
    srs,
    operators,
    blobParams: new Map([[0, params]]),
    thresholds,
    quorums,
    payloadForm: o.payloadForm,
    client: new Wallet(devPrivateKey(7)),
    // The operator state one block back: the verifier requires the reference block to be in the past.
    referenceBlockNumber: async () => Math.max(0, (await o.chain.provider.getBlockNumber()) - 1),
  });
  const server = new DAProxyServer(layer, check);
  const url = await server.start();
  const client = new DAProxyClient(url);
  await ended("proxy");
  return {
    srs,
    operators,
    params,
    thresholds,
    contracts,
    layer,
    server,
    url,
    client,
    checkCert: check,
    source: () => new AltDASource(client, srs, check, o.payloadForm),
    close: () => server.close(),
  };
}
