import { relative } from "node:path";
import { runExperimentAsync } from "../../attribution/experiments.js";
import { printTable } from "../../bench/report.js";
import { experimentParams, judgeClaims, listExperimentSpecs, loadExperimentSpec, overrideFields } from "../../experiments/index.js";
import { fromRoot, writeJsonAtomic } from "../../files.js";
import { typeOverrides } from "../../overrides.js";
import { defineCommand } from "../command.js";

function specList(): string {
  return `experiment specs:\n${listExperimentSpecs()
    .map((s) => `  ${s.name.padEnd(22)} ${s.title}`)
    .join("\n")}`;
}

export default defineCommand({
  name: "reproduce",
  usage: "NAME|SPEC-FILE [--quick] [--set key=value ...]",
  description:
    "Re-runs an experiment spec (experiments/<layer>/NAME.yaml) headless, checks its recorded claims (each\n" +
    "measured value within value ± tolerance; targets reported met or missed) and writes\n" +
    "experiments/runs/reproduce/NAME-STAMP/results.json. Exits 1 when a claim is missed. The claims are\n" +
    "for the spec's own params: with --quick or --set the values are reported, not judged.",
  options: {
    quick: { type: "boolean", doc: "the spec's quick-mode params (minutes instead of the full run)" },
    set: { type: "string", multiple: true, value: "key=value", doc: "override one of the spec's params, typed by its value there" },
  },
  positionals: { name: "NAME", min: 1, max: 1 },
  examples: ["./lab reproduce logreg-fmnist", "./lab reproduce mlp-fmnist --quick", "./lab reproduce lora-datanets --set seed=2"],
  details: specList,
  async run({ values, positionals }) {
    const spec = loadExperimentSpec(positionals[0]);
    const overrides = typeOverrides(values.set, overrideFields(spec), `experiment ${spec.name}`);
    const params = experimentParams(spec, { quick: values.quick, overrides });
    const judged = !values.quick && Object.keys(overrides).length === 0;
    console.log(`reproducing ${spec.name} (${spec.file}): ${spec.title}${judged ? "" : " — params differ from the spec's: claims reported, not judged"}`);
    const t0 = performance.now();
    const metrics = await runExperimentAsync(spec.runner, params, (line) => console.log(`[${((performance.now() - t0) / 1000).toFixed(1)} s] ${line}`));
    const results = judgeClaims(spec, metrics);
    const rows = results.map((r) => ({
      metric: r.metric,
      measured: r.measured,
      claimed: r.claimed,
      tolerance: r.tolerance,
      claim: judged ? (r.holds ? "ok" : "MISS") : "not judged",
      target: r.target ? `${r.targetStatus} (${r.target})` : "",
    }));
    printTable(`${spec.name}: claims`, rows, 4);
    const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "");
    const out = fromRoot("experiments", "runs", "reproduce", `${spec.name}-${stamp}`, "results.json");
    writeJsonAtomic(out, { experiment: spec.name, spec: spec.file, quick: values.quick, params, overrides, metrics, claims: rows, seconds: (performance.now() - t0) / 1000 });
    console.log(`results: ${relative(fromRoot(), out)}`);
    if (!judged) return 0;
    const missed = results.filter((r) => !r.holds);
    if (missed.length) {
      console.error(`${missed.length} claim(s) missed: ${missed.map((r) => r.metric).join(", ")}`);
      return 1;
    }
    console.log(`all ${rows.length} claims hold`);
    return 0;
  },
});
