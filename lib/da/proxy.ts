// A local DA server speaking eigenda-proxy's REST API, the one op-batcher and op-node's alt-DA
// client (op-alt-da DAClient) call:
//
//   POST|PUT /put[/][?commitment_mode=optimism_generic|standard]   body = payload
//        -> 200, body = commitment: optimism_generic (default) 0x01 0x00 0x02 ++ RLP(cert);
//                                   standard 0x02 ++ RLP(cert)
//   GET /get/0x01 00 02 <RLP cert hex>                     -> 200, body = payload
//   GET /get/0x02 <RLP cert hex>?commitment_mode=standard  -> 200, body = payload
//   GET /health                                            -> 200
//
// Status codes as eigenda-proxy uses them: 400 for a request that does not parse (bad hex, an
// unsupported commitment type), 404 for a DA layer or certificate version it does not serve or a
// blob no operator holds, 413 for a body over 16 MiB (answered after the body is read, so the
// client sees the status rather than a reset connection), 418 with a JSON DerivationError body
// {"StatusCode", "Msg"} for a certificate derivation must drop (1 parsing failed, 3 checkDACert
// failed, 4 blob does not decode), 503 when the operators do not confirm a put (op-batcher's
// signal to fail over to L1) or too few chunks come back, 500 for anything else.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { CERT_VERSION_V3, EIGENDA_DA_LAYER_BYTE, GENERIC_COMMITMENT_TYPE } from "./altda.js";
import { decodeCertRlp, type EigenDACertV3, encodeCert, encodeCertRlp } from "./certificate.js";
import { DAEncodingError, DAError, DAThresholdError } from "./errors.js";
import { CERT_STATUS } from "./l1.js";
import type { DALayer } from "./layer.js";

/** Checks an ABI-encoded certificate on L1 and returns EigenDACertVerifier's status code. */
export type CertChecker = (cert: Uint8Array) => Promise<number>;

/** eigenda-proxy's MaxServerPOSTRequestBodySize: 16 MiB. */
export const MAX_PUT_BYTES = 16 * 1024 * 1024;
/** A body past this is not read to its end: the connection is closed after the 413. */
const MAX_DRAIN_BYTES = 4 * MAX_PUT_BYTES;

export type CommitmentMode = "optimism_generic" | "standard";
export const COMMITMENT_MODES: readonly CommitmentMode[] = ["optimism_generic", "standard"];

/** coretypes.DerivationError's status codes, sent in a 418 body. */
export const DERIVATION_ERROR = { CERT_PARSING_FAILED: 1, RECENCY_CHECK_FAILED: 2, INVALID_CERT: 3, BLOB_DECODING_FAILED: 4 } as const;

/** The commitment a put answers with, in the requested mode. */
export function encodeCommitment(certRlp: Uint8Array, mode: CommitmentMode): Uint8Array {
  const prefix = mode === "standard" ? [CERT_VERSION_V3] : [GENERIC_COMMITMENT_TYPE, EIGENDA_DA_LAYER_BYTE, CERT_VERSION_V3];
  const out = new Uint8Array(prefix.length + certRlp.length);
  out.set(prefix);
  out.set(certRlp, prefix.length);
  return out;
}

class HttpRefusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly body?: string,
  ) {
    super(message);
  }
}

const teapot = (statusCode: number, msg: string, code: string) => new HttpRefusal(418, code, msg, JSON.stringify({ StatusCode: statusCode, Msg: msg }));

export class DAProxyServer {
  private server: Server | undefined;
  readonly stats = { puts: 0, gets: 0, certsRejected: 0 };

  constructor(
    private readonly layer: DALayer,
    private readonly checkCert?: CertChecker,
  ) {}

  /** Listens on 127.0.0.1 (port 0 = any free port) and returns the base URL. */
  async start(port = 0): Promise<string> {
    const server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    this.server = server;
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? "/", "http://localhost");
      const mode = commitmentMode(url);
      if (req.method === "GET" && url.pathname === "/health") return send(res, 200, "ok");
      if ((req.method === "POST" || req.method === "PUT") && (url.pathname === "/put" || url.pathname === "/put/")) return await this.put(req, res, mode);
      if ((req.method === "POST" || req.method === "PUT") && url.pathname.startsWith("/put/")) {
        throw new HttpRefusal(400, "da/commitment-unsupported", "a put with a precomputed (keccak256) commitment: this server makes EigenDA certificates only");
      }
      if (req.method === "GET" && url.pathname.startsWith("/get/")) return await this.get(url.pathname.slice("/get/".length), mode, res);
      throw new HttpRefusal(404, "da/proxy-no-route", `no route ${req.method} ${url.pathname}`);
    } catch (e) {
      if (e instanceof HttpRefusal) return sendError(res, e.status, e.code, e.message, e.body);
      const code = e instanceof DAError ? e.code : "da/proxy-internal";
      sendError(res, 500, code, e instanceof Error ? e.message : String(e));
    }
  }

  private async put(req: IncomingMessage, res: ServerResponse, mode: CommitmentMode): Promise<void> {
    const body = await readBody(req, res);
    if (body.length === 0) throw new HttpRefusal(400, "da/empty-payload", "an empty payload");
    let dispersal: Awaited<ReturnType<DALayer["disperse"]>>;
    try {
      dispersal = await this.layer.disperse(body);
    } catch (e) {
      // Too little stake signed: the DA layer is down for now, and 503 tells the batcher to fail over.
      if (e instanceof DAThresholdError) throw new HttpRefusal(503, e.code, e.message);
      throw e;
    }
    if (this.checkCert) {
      const status = await this.checkCert(encodeCert(dispersal.cert));
      if (status !== CERT_STATUS.SUCCESS) {
        this.stats.certsRejected++;
        throw new HttpRefusal(500, "da/cert-invalid", `the new certificate fails on L1 with status ${status}`);
      }
    }
    this.stats.puts++;
    send(res, 200, encodeCommitment(encodeCertRlp(dispersal.cert), mode));
  }

  private async get(path: string, mode: CommitmentMode, res: ServerResponse): Promise<void> {
    this.stats.gets++;
    const hex = path.startsWith("0x") ? path.slice(2) : path;
    if (!/^([0-9a-fA-F]{2})+$/.test(hex)) throw new HttpRefusal(400, "da/commitment-not-hex", "the commitment is not hex");
    const bytes = Buffer.from(hex, "hex");
    const certRlp = certOfCommitment(bytes, mode);
    let cert: EigenDACertV3;
    try {
      cert = decodeCertRlp(certRlp);
    } catch (e) {
      if (e instanceof DAEncodingError) throw teapot(DERIVATION_ERROR.CERT_PARSING_FAILED, e.message, e.code);
      throw e;
    }
    if (this.checkCert) {
      const status = await this.checkCert(encodeCert(cert));
      if (status !== CERT_STATUS.SUCCESS) {
        this.stats.certsRejected++;
        throw teapot(DERIVATION_ERROR.INVALID_CERT, `checkDACert returned status ${status}`, "da/cert-invalid");
      }
    }
    try {
      send(res, 200, this.layer.retrieve(cert).payload);
    } catch (e) {
      if (e instanceof DAError && e.code === "da/too-few-chunks") throw new HttpRefusal((e.fields.have as number) === 0 ? 404 : 503, e.code, e.message);
      if (e instanceof DAEncodingError && e.code.startsWith("da/payload-")) throw teapot(DERIVATION_ERROR.BLOB_DECODING_FAILED, e.message, e.code);
      throw e;
    }
  }
}

function commitmentMode(url: URL): CommitmentMode {
  const mode = url.searchParams.get("commitment_mode") ?? "optimism_generic";
  if (!COMMITMENT_MODES.includes(mode as CommitmentMode)) throw new HttpRefusal(400, "da/commitment-mode-unknown", `commitment_mode "${mode}" is neither optimism_generic nor standard`);
  return mode as CommitmentMode;
}

/** The RLP certificate behind a commitment; the routes eigenda-proxy answers 400 and 404 for are refused the same way. */
function certOfCommitment(bytes: Uint8Array, mode: CommitmentMode): Uint8Array {
  if (mode === "standard") {
    if (bytes.length < 2) throw new HttpRefusal(400, "da/commitment-too-short", "a standard commitment is a version byte and a certificate");
    if (bytes[0] !== CERT_VERSION_V3) throw new HttpRefusal(404, "da/commitment-unknown-cert-version", `certificate version byte 0x${bytes[0]!.toString(16)} is not V3 (0x02)`);
    return bytes.subarray(1);
  }
  if (bytes[0] !== GENERIC_COMMITMENT_TYPE) throw new HttpRefusal(400, "da/commitment-unsupported", `commitment type 0x${bytes[0]!.toString(16)} is not generic (0x01)`);
  if (bytes.length < 4) throw new HttpRefusal(400, "da/commitment-too-short", "a generic commitment is type, DA layer and version bytes and a certificate");
  if (bytes[1] !== EIGENDA_DA_LAYER_BYTE) throw new HttpRefusal(404, "da/commitment-not-eigenda", `DA layer byte 0x${bytes[1]!.toString(16)} is not EigenDA (0x00)`);
  if (bytes[2] !== CERT_VERSION_V3) throw new HttpRefusal(404, "da/commitment-unknown-cert-version", `certificate version byte 0x${bytes[2]!.toString(16)} is not V3 (0x02)`);
  return bytes.subarray(3);
}

/**
 * Reads the body; past MAX_PUT_BYTES it keeps reading and discarding (up to MAX_DRAIN_BYTES), so
 * that the 413 reaches a client still sending instead of a reset connection.
 */
function readBody(req: IncomingMessage, res: ServerResponse): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    const tooLarge = () => new HttpRefusal(413, "da/payload-too-large", `a body of more than ${MAX_PUT_BYTES} bytes (eigenda-proxy's limit)`);
    req.on("data", (d: Buffer) => {
      size += d.length;
      if (size <= MAX_PUT_BYTES) parts.push(d);
      else if (size > MAX_DRAIN_BYTES) {
        res.setHeader("connection", "close");
        reject(tooLarge());
        req.pause();
      }
    });
    req.on("end", () => (size > MAX_PUT_BYTES ? reject(tooLarge()) : resolve(Buffer.concat(parts))));
    req.on("error", reject);
  });
}

function send(res: ServerResponse, status: number, body: Uint8Array | string): void {
  res.writeHead(status, { "content-type": typeof body === "string" ? "text/plain" : "application/octet-stream" });
  res.end(body);
}

function sendError(res: ServerResponse, status: number, code: string, message: string, body?: string): void {
  if (res.headersSent) return;
  res.writeHead(status, { "content-type": "application/json" });
  res.end(body ?? JSON.stringify({ code, message }));
}
