// The client the batcher and derivation use to reach a DA server over HTTP: the lab's DAProxyServer
// or a real eigenda-proxy, by URL. It calls the routes op-node's alt-DA client (op-alt-da DAClient)
// calls: POST /put/ with the payload, GET /get/0x<commitment>; the commitment is the generic one
// (0x01 ...) unless the client is made for eigenda-proxy's standard mode.
import { DAServiceError, DAVerificationError } from "./errors.js";
import type { CommitmentMode } from "./proxy.js";

export class DAProxyClient {
  constructor(
    readonly baseUrl: string,
    readonly commitmentMode: CommitmentMode = "optimism_generic",
  ) {}

  private query(): string {
    return this.commitmentMode === "standard" ? "?commitment_mode=standard" : "";
  }

  /** Stores a payload; returns the commitment to post behind the alt-DA version byte. */
  async put(payload: Uint8Array): Promise<Uint8Array> {
    const res = await this.request(`/put/${this.query()}`, { method: "POST", body: payload, headers: { "content-type": "application/octet-stream" } });
    return new Uint8Array(await res.arrayBuffer());
  }

  /** Fetches the payload behind a commitment. */
  async get(commitment: Uint8Array): Promise<Uint8Array> {
    const res = await this.request(`/get/0x${Buffer.from(commitment).toString("hex")}${this.query()}`, { method: "GET" });
    return new Uint8Array(await res.arrayBuffer());
  }

  private async request(path: string, init: RequestInit): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(this.baseUrl + path, init);
    } catch (cause) {
      throw new DAServiceError({
        code: "da/proxy-unreachable",
        message: `no DA server at ${this.baseUrl}`,
        hint: "start the DA proxy (DAProxyServer.start) and pass its URL",
        fields: { url: this.baseUrl },
        cause,
      });
    }
    if (res.ok) return res;
    const body = await res.text();
    // The lab's server answers {code, message}; eigenda-proxy's 418 is a DerivationError {StatusCode, Msg}.
    let remote: { code?: string; message?: string; StatusCode?: number; Msg?: string } = {};
    try {
      remote = JSON.parse(body);
    } catch {
      remote = { message: body };
    }
    remote.message ??= remote.Msg;
    const fields = { status: res.status, remoteCode: remote.code ?? "", derivationStatus: remote.StatusCode ?? 0, path: path.slice(0, 80) };
    if (res.status === 418)
      throw new DAVerificationError({
        code: "da/cert-invalid",
        message: `the DA server refuses the certificate: ${remote.message}`,
        hint: "an invalid certificate is dropped by derivation, like a malformed frame",
        fields,
      });
    if (res.status === 413)
      throw new DAServiceError({
        code: "da/payload-too-large",
        message: `the DA server refuses a body this large: ${remote.message}`,
        hint: "eigenda-proxy takes at most 16 MiB per put; send smaller frames (the batcher's max frame size)",
        fields,
      });
    if (res.status === 503)
      throw new DAServiceError({
        code: "da/unavailable",
        message: `the DA layer cannot take or serve data right now: ${remote.message}`,
        hint: "retry later; a batcher with failover posts the frames to L1 instead",
        fields,
      });
    if (res.status === 404)
      throw new DAServiceError({
        code: "da/blob-not-found",
        message: `no data behind the commitment: ${remote.message}`,
        hint: "derivation cannot continue without it; bring the DA operators back or point at a DA server that has the blob",
        fields,
      });
    throw new DAServiceError({
      code: "da/proxy-error",
      message: `DA server answered ${res.status}: ${remote.message}`,
      hint: "retry; 503 means too few operators are serving their chunks right now",
      fields,
    });
  }
}
