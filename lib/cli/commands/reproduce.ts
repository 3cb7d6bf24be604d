import { relative } from "node:path";
import { scanAttributionSpecs } from "../../attribution/experiments/registry.js";
import { printTable } from "../../bench/bench-tables.js";
import { fromRoot } from "../../files.js";
import { planReproduction, reproduce } from "../../runner/reproduce-experiments.js";
import { deviationInTolerances, verdict } from "../../runner/reproduce-report.js";
import { defineCommand } from "../command.js";

function specList(): string {
  const { specs, refused } = scanAttributionSpecs();
  return `experiment specs:\n${specs.map((s) => `  ${s.name.padEnd(22)} ${s.title}`).join("\n")}${refused.map((e) => `\n  (refused: ${e.message})`).join("")}`;
}

export default defineCommand({
  name: "reproduce",
  usage: "[NAME|SPEC-FILE ...] [--quick] [--use-cache] [--set key=value ...] [--out DIR]",
  description:
    "Re-runs experiment specs (experiments/<layer>/NAME.yaml; all of them when none is named) headless, each\n" +
    "whole in one lane of LAB_WORKERS (default: the cores; a lane takes the next experiment when it is free,\n" +
    "and one experiment alone uses the workers for its own jobs), and judges every claim recorded for the\n" +
    "mode: the spec's claims for its params, its\n" +
    "quickClaims with --quick (each measured value within value ± tolerance; targets reported met or\n" +
    "missed). Writes one reproduction folder, atomically: report.html and report.md (pass/fail table,\n" +
    "where each claim is recorded and computed, timings, figures, environment manifest), results.json\n" +
    "and figures/. Every cached step is recomputed (and compared with its cached value) unless\n" +
    "--use-cache. Exits 1 when a claim is missed or an experiment stops. With --set the values are\n" +
    "shown, not judged: no claim was recorded for those params.",
  options: {
    quick: { type: "boolean", doc: "the specs' quick-mode params, judged against their quickClaims" },
    "use-cache": { type: "boolean", doc: "read steps from the step cache instead of recomputing them" },
    set: { type: "string", multiple: true, value: "key=value", doc: "override a param of the specs that have it, typed by its value there" },
    out: { type: "string", value: "DIR", doc: "the reproduction folder (default experiments/runs/reproduce/STAMP-MODE-XXXX)" },
  },
  positionals: { name: "NAME" },
  examples: ["./lab reproduce", "./lab reproduce --quick", "./lab reproduce logreg-fmnist mlp-fmnist", "./lab reproduce lora-datanets --set seed=2"],
  details: specList,
  async run({ values, positionals }) {
    const planned = planReproduction({ names: positionals, quick: values.quick, sets: values.set });
    const { reproduction, dir } = await reproduce(planned, { quick: values.quick, useCache: values["use-cache"], out: values.out });
    for (const o of reproduction.experiments) {
      if (o.claims.length === 0) continue;
      printTable(
        `${o.experiment}: ${reproduction.mode}-mode claims`,
        o.claims.map((c) => ({
          metric: c.metric,
          measured: c.measured,
          claimed: c.claimed,
          tolerance: c.tolerance,
          "deviation (tol.)": Number(deviationInTolerances(c).toFixed(2)),
          verdict: verdict(o, c),
          target: c.target ? `${c.targetStatus} (${c.target})` : "",
        })),
        4,
      );
    }
    console.log(`\nreport: ${relative(fromRoot(), dir)}/report.html (and report.md, results.json)`);
    if (!reproduction.passed) {
      const missed = reproduction.experiments.flatMap((o) => [
        ...(o.error ? [`${o.experiment} (stopped)`] : []),
        ...(o.judged ? o.claims.filter((c) => !c.holds).map((c) => `${o.experiment}.${c.metric}`) : []),
      ]);
      console.error(`${reproduction.failures} failure(s): ${missed.join(", ")}`);
      return 1;
    }
    console.log(`all judged claims hold (${reproduction.seconds.toFixed(1)} s)`);
    return 0;
  },
});
