import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { ATTRIBUTION_EXPERIMENTS, checkAttributionSpec, identificationAucKey, loadAttributionSpec, scanAttributionSpecs } from "../../../lib/attribution/experiments/index.js";
import { type ExperimentSpec, ExperimentSpecError, metricDeclOf, validateExperimentSpec } from "../../../lib/experiments/index.js";
import { fromRoot } from "../../../lib/files.js";
import { OverrideError } from "../../../lib/overrides.js";
import { planReproduction } from "../../../lib/runner/reproduce-experiments.js";
import { expectCode } from "../expect-code.js";

/** A spec under experiments/attribution/ as parsed YAML, to break one field of. */
function rawSpec(name: string): Record<string, unknown> & { params: Record<string, unknown>; quick: Record<string, unknown>; claims: { metric: string }[] } {
  return parseYaml(readFileSync(fromRoot("experiments", "attribution", `${name}.yaml`), "utf8"));
}

function checked(raw: unknown): ExperimentSpec {
  const spec = validateExperimentSpec(raw, "bad.yaml");
  checkAttributionSpec(spec);
  return spec;
}

describe("attribution experiments: the typed registry (lib/attribution/experiments/registry.ts)", () => {
  it("registers each experiment once under the name its specs give as runner, and every spec under experiments/ checks against it", () => {
    expect([...ATTRIBUTION_EXPERIMENTS.keys()]).to.have.members(["logreg-fmnist", "mlp-fmnist", "lora-datanets", "factory-contributors", "lm-datanets"]);
    const { specs, refused } = scanAttributionSpecs();
    expect(refused.map((e) => e.message)).to.deep.equal([]);
    expect(specs.map((s) => s.runner)).to.have.members(["factory-contributors", "lm-datanets", "lm-datanets", "lm-datanets", "logreg-fmnist", "lora-datanets", "mlp-fmnist"]);
  });

  it("refuses a misspelt param with the name it was probably meant to be", () => {
    const raw = rawSpec("lora-datanets");
    raw.params.rnak = raw.params.rank;
    delete raw.params.rank;
    expectCode(() => checked(raw), ExperimentSpecError, "experiment/unknown-param", { file: "bad.yaml", field: "params.rnak", param: "rnak", suggestion: "rank" });
  });

  it("refuses a param of the wrong type, out of its range, or missing, naming the field", () => {
    const wrongType = rawSpec("lora-datanets");
    wrongType.params.rank = "four";
    expectCode(() => checked(wrongType), ExperimentSpecError, "experiment/wrong-type", { field: "params.rank", expected: "an integer" });
    const negative = rawSpec("lm-datanets");
    negative.params.steps = -3;
    expectCode(() => checked(negative), ExperimentSpecError, "experiment/out-of-range", { field: "params.steps", got: -3, min: 1 });
    const fractional = rawSpec("logreg-fmnist");
    fractional.params.nTrain = 1.5;
    expectCode(() => checked(fractional), ExperimentSpecError, "experiment/wrong-type", { field: "params.nTrain" });
    const nested = rawSpec("lm-datanets");
    nested.params.lora = { r: 2, alpha: 4, targets: [] };
    expectCode(() => checked(nested), ExperimentSpecError, "experiment/out-of-range", { field: "params.lora.targets" });
    const word = rawSpec("lm-datanets");
    word.params.datanets = "fortune-files";
    expectCode(() => checked(word), ExperimentSpecError, "experiment/wrong-type", { field: "params.datanets", suggestion: "fortunes-files" });
    const prompt = rawSpec("lm-transformations");
    prompt.params.transformationPrompt = "named";
    expect(checked(prompt).params.transformationPrompt).to.equal("named");
    prompt.params.transformationPrompt = "titled";
    expectCode(() => checked(prompt), ExperimentSpecError, "experiment/wrong-type", { field: "params.transformationPrompt" });
    const models = rawSpec("lm-transformations");
    models.params.datainfModels = 0;
    expectCode(() => checked(models), ExperimentSpecError, "experiment/out-of-range", { field: "params.datainfModels", got: 0, min: 1 });
    const missing = rawSpec("mlp-fmnist");
    delete missing.params.hidden;
    expectCode(() => checked(missing), ExperimentSpecError, "experiment/missing-param", { field: "params.hidden", param: "hidden" });
  });

  it("accepts TRAK's ridge as a number or the word objective, nothing else", () => {
    const raw = rawSpec("logreg-fmnist");
    raw.params.trakRidge = 0.5;
    expect(() => checked(raw)).to.not.throw();
    raw.params.trakRidge = "objectiv";
    expectCode(() => checked(raw), ExperimentSpecError, "experiment/wrong-type", { field: "params.trakRidge" });
  });

  it("checks quick mode's params as they run, and names the quick field", () => {
    const raw = rawSpec("mlp-fmnist");
    raw.quick.epochs = 0;
    expectCode(() => checked(raw), ExperimentSpecError, "experiment/out-of-range", { field: "quick.epochs", got: 0 });
  });

  it("refuses a claim on a metric the experiment does not report", () => {
    const raw = rawSpec("logreg-fmnist");
    raw.claims[4].metric = "lds_datainff";
    expectCode(() => checked(raw), ExperimentSpecError, "experiment/unknown-metric", { field: "claims[4].metric", metric: "lds_datainff", runner: "logreg-fmnist" });
    const typo = rawSpec("factory-contributors");
    typo.claims[0].metric = "test_acuracy";
    expectCode(() => checked(typo), ExperimentSpecError, "experiment/unknown-metric", { suggestion: "test_accuracy" });
  });

  it("checks a spec when it is loaded by name, and a bad spec elsewhere does not stop the others", () => {
    const dir = mkdtempSync(join(tmpdir(), "lab-registry-"));
    writeFileSync(join(dir, "lora-datanets.yaml"), stringifyYaml(rawSpec("lora-datanets")));
    const bad = rawSpec("mlp-fmnist");
    bad.params.rnak = 8;
    writeFileSync(join(dir, "mlp-fmnist.yaml"), stringifyYaml(bad));
    expect(loadAttributionSpec("lora-datanets", dir).name).to.equal("lora-datanets");
    expectCode(() => loadAttributionSpec("mlp-fmnist", dir), ExperimentSpecError, "experiment/unknown-param", { param: "rnak" });
    const { specs, refused } = scanAttributionSpecs(dir);
    expect(specs.map((s) => s.name)).to.deep.equal(["lora-datanets"]);
    expect(refused.map((e) => [e.code, e.fields.param])).to.deep.equal([["experiment/unknown-param", "rnak"]]);
    const planned = planReproduction({ names: [], quick: true, sets: [], dir });
    expect(planned.plans.map((p) => p.spec.name)).to.deep.equal(["lora-datanets"]);
    expect(planned.refused.map((r) => r.file)).to.have.length(1);
  });

  it("checks --set values against the declared ranges before anything runs", () => {
    expectCode(() => planReproduction({ names: ["lm-datanets"], quick: true, sets: ["steps=-3"] }), ExperimentSpecError, "experiment/out-of-range", { field: "--set.steps", got: -3 });
    expectCode(() => planReproduction({ names: ["lm-datanets"], quick: true, sets: ["steps=1.5"] }), ExperimentSpecError, "experiment/wrong-type", { field: "--set.steps" });
    expectCode(() => planReproduction({ names: ["lm-datanets"], quick: true, sets: ["steps=many"] }), OverrideError, "set/wrong-type", { key: "steps" });
  });

  it("reads each reported metric name under the declaration it falls under", () => {
    const lm = ATTRIBUTION_EXPERIMENTS.get("lm-datanets")!.metrics;
    expect(metricDeclOf(lm, "auc_tracin_cp")?.key).to.equal("auc_{method}");
    expect(metricDeclOf(lm, "auc_datainf_star_vowels")?.key).to.equal("auc_{method}_{datanet}");
    expect(metricDeclOf(lm, identificationAucKey("tracin_cp", "fortunes-literature"))?.key).to.equal("auc_{method}_{datanet}");
    expect(identificationAucKey("grad_cos", "star-vowels")).to.equal("auc_grad_cos_star_vowels");
    expect(metricDeclOf(lm, "auc_ngram")?.key).to.equal("{measure}_ngram");
    expect(metricDeclOf(lm, "lds_subsets")?.key).to.equal("lds_subsets");
    expect(metricDeclOf(lm, "auc_nonesuch")).to.equal(undefined);
    expect(metricDeclOf(lm, "lds_infini_gram")?.key).to.equal("lds_{method}");
    expect(metricDeclOf(lm, "lds_exact_match_ci95_low")?.key).to.equal("lds_{method}_ci95_{bound}");
    expect(metricDeclOf(lm, "auc_exact_match")?.key).to.equal("auc_{method}");
    expect(metricDeclOf(lm, "infini_gram_query_seconds_p95")?.key).to.equal("{span}_query_seconds_{stat}");
    const logreg = ATTRIBUTION_EXPERIMENTS.get("logreg-fmnist")!.metrics;
    expect(metricDeclOf(logreg, "lds_trak_10")?.key).to.equal("lds_trak_{models}");
    expect(metricDeclOf(logreg, "lds_datainf")?.key).to.equal("lds_{method}");
    expect(metricDeclOf(logreg, "counterfactual_topk_loss_increase")?.key).to.equal("counterfactual_{which}_loss_increase");
  });
});
