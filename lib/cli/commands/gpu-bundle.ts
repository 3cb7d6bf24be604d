import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import { fromRoot } from "../../files.js";
import { buildGpuBundle } from "../../gpu-bundle/build.js";
import { defineCommand } from "../command.js";

export default defineCommand({
  name: "gpu-bundle",
  usage: "[DIR] [--try]",
  description:
    "Writes the self-contained WebGPU check (default gpu-bundle/, ignored by git, at most 60 MiB) for a bare Linux x86-64\n" +
    "NVIDIA machine with no network: the project's Node, the check bundled with tfjs and the lab's training code, dawn.node,\n" +
    "Debian's libvulkan1 and run.sh, which prints one JSON object (adapter, matmul GFLOP/s, Factory training throughput on\n" +
    "webgpu and wasm, their largest loss difference, the targets). Progress goes to stderr.",
  options: {
    try: { type: "boolean", doc: "run the bundle here afterwards (run.sh --quick --allow-software): its JSON on stdout" },
  },
  positionals: { name: "DIR", max: 1 },
  examples: ["./lab gpu-bundle", "./lab gpu-bundle --try > gpu-check-local.json", "sh gpu-bundle/run.sh > gpu-check.json   # on the GPU machine"],
  async run({ values, positionals }) {
    const outDir = resolve(positionals[0] ?? fromRoot("gpu-bundle"));
    // progress on stderr: with --try, stdout is the check's JSON alone
    const result = await buildGpuBundle({ outDir, log: (line) => console.error(`  ${line}`) });
    console.error(`GPU check bundle: ${outDir} (${(result.bytes / 2 ** 20).toFixed(1)} MiB, ${result.files.length} files)`);
    console.error(`on the GPU machine: sh ${join(outDir, "run.sh")} > gpu-check.json`);
    if (!values.try) return 0;
    const run = spawnSync("sh", [join(outDir, "run.sh"), "--quick", "--allow-software"], { stdio: "inherit" });
    return run.status ?? 1;
  },
});
