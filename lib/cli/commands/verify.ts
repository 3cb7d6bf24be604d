import { existsSync } from "node:fs";
import { join } from "node:path";
import { LabError } from "../../errors.js";
import { verifySettlement } from "../../chain/verify.js";
import { runsDir } from "../../runner/run.js";

/** ./lab verify RUN-ID|RUN-FOLDER ...: checks each run folder's results.json against its settlement. */
export default async function main(args: string[]): Promise<number> {
  if (args.length === 0) {
    throw new LabError({ code: "cli/missing-argument", message: "no run given", hint: "usage: ./lab verify RUN-ID (a folder name under experiments/runs/)", fields: { command: "verify", argument: "RUN-ID" } });
  }
  let failed = 0;
  for (const arg of args) {
    const dir = existsSync(arg) ? arg : join(runsDir(), arg);
    try {
      const v = await verifySettlement(dir);
      console.log(`✓ ${v.settlement.runId}: results.json sha256 ${v.settlement.resultsSha256} matches transaction ${v.settlement.txHash} on chain ${v.settlement.chain.chainId}; on chain: ${v.onChain}`);
    } catch (error) {
      failed++;
      console.error(`✗ ${arg}: ${error instanceof LabError ? error.toString() : String(error)}`);
    }
  }
  return failed ? 1 : 0;
}
