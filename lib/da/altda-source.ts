// Alt-DA on both ends of the rollup (specs/experimental/alt-da.md, EigenDA "secure integration"):
//
// - postThroughDA: the batcher puts each calldata frame transaction to the DA server and posts
//   0x01 ++ commitment in its place.
// - AltDASource: derivation, for batcher data starting 0x01, parses the commitment, checks the
//   certificate on L1, fetches the payload from the DA server, re-encodes and re-commits it and
//   compares with the certificate's KZG commitment, then hands the frames on. The certificate in
//   the commitment is RLP-encoded (as eigenda-proxy serves it); the verifier is called with its ABI encoding. An invalid
//   certificate is dropped (the batcher's fault, like a bad frame); a commitment with no data
//   behind it stops derivation with da/blob-unavailable rather than leaving a silent gap.
import type { BatcherTx } from "../ledger/batcher.js";
import type { AltDADrop } from "../ledger/derivation/alt-da.js";
import { altDATxData, isAltDATxData, parseGenericCommitment } from "./altda.js";
import { g1ToAffine } from "./bn254.js";
import { decodeCertRlp, type EigenDACertV3, encodeCert } from "./certificate.js";
import { DAError, DAServiceError, DAVerificationError } from "./errors.js";
import { type BlobCommitment, commitG1 } from "./kzg-bn254.js";
import { CERT_STATUS } from "./l1.js";
import { DEFAULT_PAYLOAD_FORM, type PolynomialForm, payloadToBlob } from "./polynomial-form.js";
import type { CertChecker } from "./proxy.js";
import type { DAProxyClient } from "./proxy-client.js";
import type { Srs } from "./srs.js";

export interface PostThroughDAOptions {
  /** When the DA server answers 503, post the frames to L1 as calldata instead (op-batcher's failover). */
  failover?: boolean;
  /** Counts frame transactions that failed over. */
  onFailover?: (tx: BatcherTx) => void;
}

/** Replaces each calldata frame transaction's data by the alt-DA commitment of that data. */
export async function postThroughDA(client: DAProxyClient, txs: readonly BatcherTx[], opts: PostThroughDAOptions = {}): Promise<BatcherTx[]> {
  const out: BatcherTx[] = [];
  for (const t of txs) {
    if (t.da !== "calldata")
      throw new DAError({
        code: "da/batcher-not-calldata",
        message: "alt-DA posts frame data that would otherwise be calldata",
        hint: 'configure the batcher with da: "calldata" under alt-DA',
        fields: { da: t.da },
      });
    try {
      out.push({ ...t, data: altDATxData(await client.put(t.data)) });
    } catch (e) {
      if (!(opts.failover && e instanceof DAServiceError && e.code === "da/unavailable")) throw e;
      opts.onFailover?.(t);
      out.push(t); // frames (derivation version 0x00) on L1: derivation reads them as before
    }
  }
  return out;
}

export interface AltDAStats {
  commitments: number;
  fetched: number;
  bytesFetched: number;
  droppedUndecodable: number;
  droppedInvalidCert: number;
}

export class AltDASource {
  readonly stats: AltDAStats = { commitments: 0, fetched: 0, bytesFetched: 0, droppedUndecodable: 0, droppedInvalidCert: 0 };

  constructor(
    private readonly client: DAProxyClient,
    private readonly srs: Srs,
    private readonly checkCert?: CertChecker,
    /** How the DA layer turns payloads into blobs (evaluation form unless told). */
    private readonly payloadForm: PolynomialForm = DEFAULT_PAYLOAD_FORM,
  ) {}

  /** Batcher data as derivation should see it: frames, or why the commitment is dropped. */
  async resolve(data: Uint8Array): Promise<Uint8Array | AltDADrop> {
    if (!isAltDATxData(data)) return data;
    this.stats.commitments++;
    const commitment = data.subarray(1);
    let expected: BlobCommitment;
    let cert: EigenDACertV3;
    try {
      cert = decodeCertRlp(parseGenericCommitment(commitment).cert);
      expected = cert.blobInclusionInfo.blobCertificate.blobHeader.commitment;
    } catch (e) {
      if (!(e instanceof DAError)) throw e;
      this.stats.droppedUndecodable++;
      return { dropped: e.code, fields: e.fields };
    }
    const status = this.checkCert ? await this.checkCert(encodeCert(cert)) : CERT_STATUS.SUCCESS;
    if (status !== CERT_STATUS.SUCCESS) {
      this.stats.droppedInvalidCert++;
      return { dropped: "da/cert-invalid", fields: { status } };
    }
    let payload: Uint8Array;
    try {
      payload = await this.client.get(commitment);
    } catch (e) {
      if (e instanceof DAVerificationError && e.code === "da/cert-invalid") {
        this.stats.droppedInvalidCert++;
        return { dropped: e.code, fields: e.fields };
      }
      throw new DAServiceError({
        code: "da/blob-unavailable",
        message: `derivation stops: the DA layer has no data for a certified commitment (${e instanceof DAError ? e.code : String(e)})`,
        hint: "the batch is certified, so its data must be retrieved before the chain can advance; restore the DA operators or the DA server and derive again",
        fields: { commitmentBytes: commitment.length },
        cause: e,
      });
    }
    const rebuilt = g1ToAffine(commitG1(this.srs, payloadToBlob(payload, this.payloadForm)));
    const certified = g1ToAffine(expected.commitment);
    if (rebuilt.x !== certified.x || rebuilt.y !== certified.y) {
      throw new DAVerificationError({
        code: "da/commitment-mismatch",
        message: "the DA server returned data that does not commit to the certificate's KZG commitment",
        hint: "the DA server is faulty or malicious; derive from another one",
        fields: { payloadBytes: payload.length },
      });
    }
    this.stats.fetched++;
    this.stats.bytesFetched += payload.length;
    return payload;
  }
}
