import { existsSync } from "node:fs";
import { join } from "node:path";
import { verifySettlement } from "../../chain/verify.js";
import { describeError } from "../../errors.js";
import { runsDir } from "../../runner/run.js";
import { defineCommand } from "../command.js";

export default defineCommand({
  name: "verify",
  usage: "RUN-ID|RUN-FOLDER ...",
  description:
    "Checks each run folder: the sha256 of results.json against the signed settlement transaction kept in\n" + "settlement.json and, on a chain that still runs (LAB_RPC_URL), the registry's record.",
  options: {},
  positionals: { name: "RUN-ID", min: 1 },
  examples: ["./lab verify 20261201T101500Z-05-proof-of-attribution-1a2b", "./lab verify experiments/runs/*"],
  async run({ positionals }) {
    let failed = 0;
    for (const arg of positionals) {
      const dir = existsSync(arg) ? arg : join(runsDir(), arg);
      try {
        const v = await verifySettlement(dir);
        console.log(
          `✓ ${v.settlement.runId}: results.json sha256 ${v.settlement.resultsSha256} matches transaction ${v.settlement.txHash} on chain ${v.settlement.chain.chainId}; on chain: ${v.onChain}`,
        );
      } catch (error) {
        failed++;
        console.error(`✗ ${arg}: ${describeError(error)}`);
      }
    }
    return failed ? 1 : 0;
  },
});
