import { existsSync, mkdtempSync } from "node:fs";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { Wallet } from "ethers";
import { checkChain, devPrivateKey } from "../../../lib/chain/index.js";
import runCommand from "../../../lib/cli/commands/run.js";
import { LabError } from "../../../lib/errors.js";
import { fromRoot } from "../../../lib/files.js";
import { freePort } from "../../helpers/hardhat-node.js";
import { rpcEndpoint } from "../../helpers/rpc-endpoint.js";
import { expectCodeAsync } from "../expect-code.js";

const CHAIN_ENV = ["LAB_RPC_URL", "LAB_CHAIN_ID", "LAB_PRIVATE_KEY", "LAB_NOTEBOOKS_DIR", "LAB_RUNS_DIR"] as const;

/** Runs `./lab run ok` with these chain variables; returns the exit code and what went to stderr. */
async function labRun(env: Partial<Record<(typeof CHAIN_ENV)[number], string>>): Promise<{ code: number; stderr: string; runsDir: string }> {
  const saved = Object.fromEntries(CHAIN_ENV.map((k) => [k, process.env[k]]));
  const runsDir = join(mkdtempSync(join(tmpdir(), "lab-preflight-")), "runs");
  for (const k of CHAIN_ENV) delete process.env[k];
  Object.assign(process.env, { LAB_NOTEBOOKS_DIR: fromRoot("test", "fixtures", "notebooks"), LAB_RUNS_DIR: runsDir }, env);
  const original = console.error;
  let stderr = "";
  console.error = (...parts: unknown[]) => {
    stderr += `${parts.join(" ")}\n`;
  };
  try {
    return { code: await runCommand(["ok"]), stderr, runsDir };
  } finally {
    console.error = original;
    for (const k of CHAIN_ENV) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  }
}

function expectOneParagraph(stderr: string): void {
  expect(stderr.trim()).to.match(/^error: /);
  expect(stderr.replace(/\n/g, " ")).to.include(" Fix: ");
  expect(stderr.trim(), "no blank line").to.not.match(/\n\s*\n/);
  expect(stderr, "no stack").to.not.match(/^\s+at /m);
  expect(stderr.trim().split("\n").length).to.be.at.most(5);
}

describe("./lab run checks the chain before the first cell", function () {
  this.timeout(30_000);
  let pub: { url: string; server: Server };
  let silent: { url: string; server: Server };
  let closedPort: number;
  before(async () => {
    pub = await rpcEndpoint("public");
    silent = await rpcEndpoint("silent");
    closedPort = await freePort();
  });
  after(() => {
    pub.server.close();
    silent.server.closeAllConnections();
    silent.server.close();
  });

  const cases: Array<[string, () => Record<string, string>, string]> = [
    ["a URL that is not a URL", () => ({ LAB_RPC_URL: "localhost:8545" }), "chain/bad-url"],
    ["an endpoint that does not listen", () => ({ LAB_RPC_URL: `http://127.0.0.1:${closedPort}` }), "chain/unreachable"],
    ["an endpoint that does not answer within 5 s", () => ({ LAB_RPC_URL: silent.url }), "chain/no-answer"],
    ["a wrong chain id", () => ({ LAB_RPC_URL: pub.url, LAB_CHAIN_ID: "31337" }), "chain/id-mismatch"],
    ["a non-local chain without a key", () => ({ LAB_RPC_URL: pub.url }), "chain/missing-key"],
    ["a public development key on a non-local chain", () => ({ LAB_RPC_URL: pub.url, LAB_PRIVATE_KEY: devPrivateKey(0) }), "chain/dev-key-refused"],
  ];
  for (const [what, env, code] of cases) {
    it(`refuses ${what}: one paragraph, exit code 2, nothing run`, async () => {
      const saved = { ...process.env };
      Object.assign(process.env, env());
      try {
        await expectCodeAsync(checkChain(), LabError, code);
      } finally {
        for (const k of CHAIN_ENV) {
          if (saved[k] === undefined) delete process.env[k];
          else process.env[k] = saved[k];
        }
      }
      const run = await labRun(env());
      expect(run.code).to.equal(2);
      expectOneParagraph(run.stderr);
      expect(existsSync(run.runsDir), "no run folder").to.equal(false);
      expect(existsSync(join(run.runsDir, "..", ".staging")), "no kernel was started").to.equal(false);
    });
  }

  it("accepts a non-local chain with a key of one's own (the check itself sends nothing)", async () => {
    expect(await checkChain({ rpcUrl: pub.url, privateKey: Wallet.createRandom().privateKey })).to.match(/chain 1, signer 0x/);
  });
});
