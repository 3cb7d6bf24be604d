import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { parse } from "yaml";
import { fromRoot, writeJsonAtomic } from "../../files.js";
import { LabError } from "../../errors.js";
import { printTable } from "../../bench/report.js";
import { runExperimentAsync, targetStatus } from "../../attribution/experiments.js";

/** A claim recorded in an experiment spec: the measured metric must lie within value ± tolerance. */
export interface Claim {
  metric: string;
  value: number;
  tolerance: number;
  /** The target for this metric, e.g. ">= 0.75" (reported, met or missed). */
  target?: string;
}

export interface ExperimentSpec {
  name: string;
  title?: string;
  runner: string;
  params: Record<string, unknown>;
  claims: Claim[];
}

function findSpecs(dir = fromRoot("experiments")): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (entry === "runs") continue;
    if (statSync(path).isDirectory()) out.push(...findSpecs(path));
    else if (entry.endsWith(".yaml") || entry.endsWith(".yml")) out.push(path);
  }
  return out;
}

export function loadSpec(name: string): { spec: ExperimentSpec; path: string } {
  const all = findSpecs().map((path) => ({ path, doc: parse(readFileSync(path, "utf8")) })).filter((s) => s.doc && typeof s.doc === "object" && "claims" in s.doc);
  const hit = all.find((s) => s.doc.name === name || relative(fromRoot("experiments"), s.path).replace(/\.ya?ml$/, "") === name);
  if (!hit) {
    const known = all.map((s) => String(s.doc.name)).sort();
    throw new LabError({ code: "spec/unknown-experiment", message: `no experiment spec named "${name}"`, hint: `use one of: ${known.join(", ")}`, fields: { name, known } });
  }
  const spec = hit.doc as ExperimentSpec;
  for (const c of spec.claims ?? []) {
    if (typeof c.metric !== "string" || typeof c.value !== "number" || typeof c.tolerance !== "number") {
      throw new LabError({
        code: "spec/bad-claim",
        message: `claim ${JSON.stringify(c)} in ${hit.path} needs metric, value and tolerance`,
        hint: "write each claim as { metric: NAME, value: NUMBER, tolerance: NUMBER }",
        fields: { claim: JSON.stringify(c), path: hit.path },
      });
    }
  }
  return { spec, path: hit.path };
}

/**
 * ./lab reproduce NAME [--set key=value ...]: re-runs experiments/…/NAME.yaml headless, checks its
 * recorded claims, writes experiments/runs/reproduce/NAME-STAMP/results.json, and exits 1 if any
 * claim is missed (2 for usage errors).
 */
export default async function main(args: string[]): Promise<number> {
  const names = args.filter((a) => !a.startsWith("--") && !a.includes("="));
  if (names.length !== 1) {
    console.error("usage: ./lab reproduce NAME [--set key=value ...]");
    return 2;
  }
  const { spec, path } = loadSpec(names[0]);
  const params: Record<string, unknown> = { ...spec.params };
  args.forEach((a, i) => {
    if (a === "--set" && args[i + 1]) {
      const [k, v] = args[i + 1].split("=");
      params[k] = JSON.parse(v);
    }
  });
  console.log(`reproducing ${spec.name} (${relative(fromRoot(), path)}): ${spec.title ?? spec.runner}`);
  const t0 = performance.now();
  const metrics = await runExperimentAsync(spec.runner, params, (line) => console.log(`[${((performance.now() - t0) / 1000).toFixed(1)} s] ${line}`));
  const rows = spec.claims.map((c) => {
    const v = metrics[c.metric];
    const ok = typeof v === "number" && Number.isFinite(v) && Math.abs(v - c.value) <= c.tolerance;
    return { metric: c.metric, measured: v ?? NaN, claimed: c.value, tolerance: c.tolerance, claim: ok ? "ok" : "MISS", target: c.target ? `${targetStatus(c.target, v ?? NaN)} (${c.target})` : "" };
  });
  printTable(`${spec.name}: claims`, rows, 4);
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "");
  const out = fromRoot("experiments", "runs", "reproduce", `${spec.name}-${stamp}`, "results.json");
  writeJsonAtomic(out, { experiment: spec.name, spec: relative(fromRoot(), path), params, metrics, claims: rows, seconds: (performance.now() - t0) / 1000 });
  console.log(`results: ${relative(fromRoot(), out)}`);
  const missed = rows.filter((r) => r.claim !== "ok");
  if (missed.length) {
    console.error(`${missed.length} claim(s) missed: ${missed.map((r) => r.metric).join(", ")}`);
    return 1;
  }
  console.log(`all ${rows.length} claims hold`);
  return 0;
}
