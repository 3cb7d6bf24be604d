import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import { fromRoot } from "../../files.js";
import { buildGpuBundle } from "../../gpu-bundle/build.js";

/**
 * ./lab gpu-bundle [DIR] [--try]: writes the self-contained WebGPU check (default gpu-bundle/,
 * ignored by git) for a bare Linux x86-64 NVIDIA machine; --try then runs it here, short and on
 * whatever adapter there is (a software one included), and prints its JSON.
 */
export default async function main(args: string[]): Promise<number> {
  if (args.includes("--help")) {
    console.log("usage: ./lab gpu-bundle [DIR] [--try]\n\n  DIR    where to write the bundle (default gpu-bundle/)\n  --try  run the bundle here afterwards (run.sh --quick --allow-software) and print its JSON");
    return 0;
  }
  const outDir = resolve(args.find((a) => !a.startsWith("--")) ?? fromRoot("gpu-bundle"));
  // progress on stderr: with --try, stdout is the check's JSON alone
  const result = await buildGpuBundle({ outDir, log: (line) => console.error(`  ${line}`) });
  console.error(`GPU check bundle: ${outDir} (${(result.bytes / 2 ** 20).toFixed(1)} MiB, ${result.files.length} files)`);
  console.error(`on the GPU machine: sh ${join(outDir, "run.sh")} > gpu-check.json`);
  if (!args.includes("--try")) return 0;
  const run = spawnSync("sh", [join(outDir, "run.sh"), "--quick", "--allow-software"], { stdio: "inherit" });
  return run.status ?? 1;
}
