// The DA layer as one service: a disperser over an operator set, and retrieval from the same
// operators. This is what the proxy fronts; batcher and derivation never touch it directly.
import type { EigenDACertV3 } from "./certificate.js";
import { type Dispersal, Disperser, type DisperserConfig } from "./disperser.js";
import { DAConfigError } from "./errors.js";
import { type RetrievalReport, retrievePayload } from "./retrieval.js";

export interface DALayerConfig extends DisperserConfig {
  /** The L1 block whose operator state a new batch refers to. */
  referenceBlockNumber: () => Promise<number>;
  quorums?: number[];
}

export class DALayer {
  readonly disperser: Disperser;
  readonly dispersals: Dispersal[] = [];

  constructor(readonly cfg: DALayerConfig) {
    this.disperser = new Disperser(cfg);
  }

  async disperse(payload: Uint8Array): Promise<Dispersal> {
    const d = await this.disperser.disperse(payload, { referenceBlockNumber: await this.cfg.referenceBlockNumber(), quorums: this.cfg.quorums, requireConfirmation: true });
    this.dispersals.push(d);
    return d;
  }

  retrieve(cert: EigenDACertV3): RetrievalReport {
    const version = cert.blobInclusionInfo.blobCertificate.blobHeader.version;
    const params = this.cfg.blobParams.get(version);
    if (!params)
      throw new DAConfigError({
        code: "da/unknown-blob-version",
        message: `no blob parameters for version ${version}`,
        hint: "the certificate names a blob version this layer does not run",
        fields: { version },
      });
    return retrievePayload(this.cfg.srs, cert, this.cfg.operators, params, this.cfg.payloadForm);
  }
}
