import { createServer, type Server } from "node:http";

/**
 * A JSON-RPC endpoint on loopback: "public" answers like a public chain (chain id 1, a Geth client,
 * so not a local development chain); "silent" accepts connections and never answers.
 */
export function rpcEndpoint(mode: "public" | "silent"): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    if (mode === "silent") return;
    let body = "";
    req.on("data", (d) => {
      body += d;
    });
    req.on("end", () => {
      const { id, method } = JSON.parse(body);
      const result = method === "eth_chainId" ? "0x1" : method === "web3_clientVersion" ? "Geth/v1.14.0-stable/linux-amd64/go1.22" : null;
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ jsonrpc: "2.0", id, result }));
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server })));
}
