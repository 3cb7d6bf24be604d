// A local DA server in the eigenda-proxy mould, speaking the OP Stack's alt-DA server API:
//
//   POST /put                 body = payload         -> 200, body = generic commitment (0x01 0x00 0x02 cert)
//   GET  /get/0x<commitment>                         -> 200, body = payload
//   GET  /health                                     -> 200
//
// Like eigenda-proxy it checks every certificate against the L1 verifier: a certificate that
// does not parse or does not verify is answered 418 (so derivation drops it), an unknown blob 404,
// too few chunks 503 (retry later). A put the operators do not confirm is answered 503, the signal
// on which op-batcher fails over to posting the frames on L1 itself.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { genericCommitment, parseGenericCommitment } from "./altda.js";
import { decodeCert, type EigenDACertV3, encodeCert } from "./certificate.js";
import { DAEncodingError, DAError, DAThresholdError } from "./errors.js";
import { CERT_STATUS } from "./l1.js";
import type { DALayer } from "./layer.js";

/** Checks a certificate on L1 and returns EigenDACertVerifier's status code. */
export type CertChecker = (cert: Uint8Array) => Promise<number>;

export const MAX_PUT_BYTES = 16 * 1024 * 1024;

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
      if (req.method === "GET" && url.pathname === "/health") return send(res, 200, "ok");
      if ((req.method === "POST" || req.method === "PUT") && url.pathname === "/put") return await this.put(req, res);
      if (req.method === "GET" && url.pathname.startsWith("/get/0x")) return await this.get(url.pathname.slice("/get/0x".length), res);
      return sendError(res, 404, "da/proxy-no-route", `no route ${req.method} ${url.pathname}`);
    } catch (e) {
      const code = e instanceof DAError ? e.code : "da/proxy-internal";
      sendError(res, 500, code, e instanceof Error ? e.message : String(e));
    }
  }

  private async put(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    if (body.length === 0) return sendError(res, 400, "da/empty-payload", "an empty payload");
    let dispersal: Awaited<ReturnType<DALayer["disperse"]>>;
    try {
      dispersal = await this.layer.disperse(body);
    } catch (e) {
      // Too little stake signed: the DA layer is down for now, and 503 tells the batcher to fail over.
      if (e instanceof DAThresholdError) return sendError(res, 503, e.code, e.message);
      throw e;
    }
    const cert = encodeCert(dispersal.cert);
    if (this.checkCert) {
      const status = await this.checkCert(cert);
      if (status !== CERT_STATUS.SUCCESS) {
        this.stats.certsRejected++;
        return sendError(res, 500, "da/cert-invalid", `the new certificate fails on L1 with status ${status}`);
      }
    }
    this.stats.puts++;
    send(res, 200, genericCommitment(cert));
  }

  private async get(hex: string, res: ServerResponse): Promise<void> {
    this.stats.gets++;
    if (!/^([0-9a-fA-F]{2})+$/.test(hex)) return sendError(res, 400, "da/commitment-not-hex", "the commitment is not hex");
    let cert: Uint8Array;
    let decoded: EigenDACertV3;
    try {
      cert = parseGenericCommitment(Buffer.from(hex, "hex")).cert;
      decoded = decodeCert(cert);
    } catch (e) {
      // A commitment that does not parse is as invalid as one that fails on L1: derivation drops it.
      if (e instanceof DAEncodingError) return sendError(res, 418, e.code, e.message);
      throw e;
    }
    if (this.checkCert) {
      const status = await this.checkCert(cert);
      if (status !== CERT_STATUS.SUCCESS) {
        this.stats.certsRejected++;
        return sendError(res, 418, "da/cert-invalid", `the certificate fails on L1 with status ${status}`);
      }
    }
    try {
      send(res, 200, this.layer.retrieve(decoded).payload);
    } catch (e) {
      if (e instanceof DAError && e.code === "da/too-few-chunks") {
        return sendError(res, (e.fields.have as number) === 0 ? 404 : 503, e.code, e.message);
      }
      throw e;
    }
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on("data", (d: Buffer) => {
      size += d.length;
      if (size > MAX_PUT_BYTES) {
        reject(new DAError({ code: "da/payload-too-large", message: `more than ${MAX_PUT_BYTES} bytes`, hint: "EigenDA blobs hold at most 16 MiB", fields: { max: MAX_PUT_BYTES } }));
        req.destroy();
      } else parts.push(d);
    });
    req.on("end", () => resolve(Buffer.concat(parts)));
    req.on("error", reject);
  });
}

function send(res: ServerResponse, status: number, body: Uint8Array | string): void {
  res.writeHead(status, { "content-type": typeof body === "string" ? "text/plain" : "application/octet-stream" });
  res.end(body);
}

function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify({ code, message }));
}
