import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { type Verification, verifySettlement } from "../../chain/verify-run.js";
import { LabError, problemParagraph } from "../../errors.js";
import { runsDir } from "../../runner/run-notebooks.js";
import { defineCommand } from "../command.js";

/** What a passed check proves, and what it does not, in plain lines. */
export function describeVerification(v: Verification): string[] {
  const s = v.settlement;
  const lines = [
    `✓ ${s.runId} (notebook ${s.notebook})`,
    `  results.json hashes to ${s.resultsSha256}, the hash in the signed settlement transaction ${s.txHash}${v.manifest === "matches" ? " and in manifest.json" : " (no manifest.json to compare)"}`,
    `  settled by account ${v.signer} (the registry keeps each account's runs apart) for chain ${s.chain.chainId}, at the registry ${s.registry}`,
  ];
  lines.push(
    v.developmentKey
      ? "  that signer is a public development account: anyone can sign as it, so this check guards against accidental change, not against someone holding the key"
      : "  only the holder of that signer's key could have made this transaction",
  );
  lines.push(
    v.onChain === "matches"
      ? `  on chain: block ${s.blockNumber} and the registry's record of the run under ${v.signer} hold the same hash`
      : `  on chain: not checked: ${v.onChain.replace(/^skipped: /, "")}`,
  );
  return lines;
}

/** The run folder a RUN-ID (or a path) names, or a refusal saying that no such run exists. */
export function resolveRunDir(arg: string): string {
  const dir = existsSync(arg) ? arg : join(runsDir(), arg);
  if (existsSync(dir) && existsSync(join(dir, "settlement.json"))) return dir;
  if (existsSync(dir)) {
    throw new LabError({
      code: "verify/not-a-run",
      fields: { run: arg, dir },
      message: `${arg} is not a run folder: ${dir} holds no settlement.json (the runs folder also keeps ./lab export's pages, reproductions and OpenLoRA's adapters)`,
      hint: "name a run id as ./lab run printed it, e.g. 20261201T091122Z-00-tour-9d8b",
    });
  }
  const known = existsSync(runsDir())
    ? readdirSync(runsDir())
        .filter((d) => /^\d{8}T/.test(d))
        .sort()
        .slice(-3)
    : [];
  throw new LabError({
    code: "verify/no-such-run",
    fields: { run: arg, runsDir: runsDir() },
    message: `no such run: there is no run ${arg} in ${runsDir()}`,
    hint: known.length ? `name a folder of ${runsDir()}; the latest are ${known.join(", ")}` : "run a notebook first (./lab run 00) and verify the run id it prints",
  });
}

export default defineCommand({
  name: "verify",
  usage: "RUN-ID|RUN-FOLDER ...",
  description:
    "Checks each run folder and says what that proves: the sha256 of results.json against the signed settlement\n" +
    "transaction in settlement.json and against manifest.json, the signer (a public development key guards only\n" +
    "against accidental change), and, on a chain that still holds the settlement's block, the registry's record.",
  options: {},
  positionals: { name: "RUN-ID", min: 1 },
  examples: ["./lab verify 20261201T101500Z-05-proof-of-attribution-1a2b", "./lab verify experiments/runs/*"],
  async run({ positionals }) {
    let failed = 0;
    for (const arg of positionals) {
      try {
        for (const line of describeVerification(await verifySettlement(resolveRunDir(arg)))) console.log(line);
      } catch (error) {
        failed++;
        console.error(`✗ ${arg}\n${problemParagraph(error).replace(/^/gm, "  ")}`);
      }
    }
    return failed ? 1 : 0;
  },
});
