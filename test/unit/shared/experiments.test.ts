import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { expect } from "chai";
import { stringify as stringifyYaml } from "yaml";
import {
  evaluationRows,
  experimentParams,
  experimentSpecFiles,
  judgeClaims,
  listExperimentSpecs,
  loadExperimentSpec,
  overrideFields,
  parseTarget,
  scanExperimentSpecs,
  targetStatus,
  validateExperimentSpec,
} from "../../../lib/experiments/index.js";
import { fromRoot } from "../../../lib/files.js";
import { refusal } from "../expect-code.js";

const base = () => ({
  kind: "experiment",
  name: "toy",
  title: "a toy experiment",
  runner: "toy",
  params: { seed: 1, n: 100, lr: 0.1, sizes: [1, 2] },
  quick: { n: 10 },
  claims: [
    { metric: "lds", value: 0.5, tolerance: 0.05, target: ">= 0.4" },
    { metric: "lds_trak_10", value: 0.9, tolerance: 0.1, quickMetric: "lds_trak_5" },
    { metric: "auc", value: 0.8, tolerance: 0 },
  ],
  anchors: [
    { metric: "lds", method: "influence functions", value: 0.8, approximate: true, setting: "MNIST-10, LR", source: "dattri benchmark (Deng et al., 2024)" },
    { metric: "lds", method: "TRAK-10", value: "not reported", setting: "MNIST-10, LR", source: "TRAK (Park et al., ICML 2023)" },
  ],
});

// biome-ignore lint/suspicious/noExplicitAny: each case reaches into the nested fields of a raw spec to break one
type RawSpec = Record<string, any>;

function withChange(change: (spec: RawSpec) => void): Record<string, unknown> {
  const spec = base() as RawSpec;
  change(spec);
  return spec;
}

describe("experiment specs (lib/experiments)", () => {
  it("loads a spec with its quick mode, claims and anchors", () => {
    const spec = validateExperimentSpec(base(), "toy.yaml");
    expect(spec.quick).to.deep.equal({ n: 10 });
    expect(spec.claims[1].quickMetric).to.equal("lds_trak_5");
    expect(spec.anchors.map((a) => [a.value, a.approximate])).to.deep.equal([
      [0.8, true],
      ["not reported", false],
    ]);
  });

  it("refuses each bad field by code, naming file and field", () => {
    const cases: [string, (s: RawSpec) => void, Record<string, unknown>][] = [
      [
        "experiment/unknown-field",
        (s) => {
          s.claim = [];
        },
        { file: "toy.yaml", field: "claim" },
      ],
      [
        "experiment/unknown-field",
        (s) => {
          s.claims[0].tolerence = 1;
        },
        { field: "claims[0].tolerence" },
      ],
      [
        "experiment/missing-field",
        (s) => {
          delete s.runner;
        },
        { field: "runner" },
      ],
      [
        "experiment/missing-field",
        (s) => {
          delete s.claims[2].tolerance;
        },
        { field: "claims[2].tolerance" },
      ],
      [
        "experiment/wrong-type",
        (s) => {
          s.claims[0].value = "0.5";
        },
        { field: "claims[0].value", expected: "number" },
      ],
      [
        "experiment/wrong-type",
        (s) => {
          s.params = [1];
        },
        { field: "params", expected: "mapping" },
      ],
      [
        "experiment/out-of-range",
        (s) => {
          s.claims[0].tolerance = -1;
        },
        { field: "claims[0].tolerance" },
      ],
      [
        "experiment/bad-target",
        (s) => {
          s.claims[0].target = "about 0.5";
        },
        { field: "claims[0].target", target: "about 0.5" },
      ],
      [
        "experiment/repeated-claim",
        (s) => {
          s.claims[2].metric = "lds";
        },
        { field: "claims[2].metric", metric: "lds" },
      ],
      [
        "experiment/unknown-field",
        (s) => {
          s.quick = { epochs: 3 };
        },
        { field: "quick.epochs" },
      ],
      [
        "experiment/wrong-type",
        (s) => {
          s.quick = { n: "ten" };
        },
        { field: "quick.n", expected: "number" },
      ],
      [
        "experiment/unknown-metric",
        (s) => {
          s.anchors[0].metric = "lds_tracin";
        },
        { field: "anchors[0].metric", metric: "lds_tracin" },
      ],
      [
        "experiment/wrong-type",
        (s) => {
          s.anchors[0].value = "n/a";
        },
        { field: "anchors[0].value" },
      ],
      [
        "experiment/missing-field",
        (s) => {
          delete s.anchors[1].source;
        },
        { field: "anchors[1].source" },
      ],
      [
        "experiment/bad-name",
        (s) => {
          s.name = "Toy Spec";
        },
        { field: "name", name: "Toy Spec" },
      ],
    ];
    for (const [code, change, fields] of cases) {
      const r = refusal(() => validateExperimentSpec(withChange(change), "toy.yaml"));
      expect(r.code, JSON.stringify(fields)).to.equal(code);
      expect(r.fields).to.include(fields);
    }
  });

  it("finds specs by name, by path or as a file; refuses an unknown name and a file that does not parse", () => {
    const dir = mkdtempSync(join(tmpdir(), "lab-specs-"));
    mkdirSync(join(dir, "attribution"));
    mkdirSync(join(dir, "runs"));
    writeFileSync(join(dir, "attribution", "toy-file.json"), JSON.stringify(base()));
    writeFileSync(join(dir, "attribution", "fee-split.yaml"), "platformBps: 1000\n");
    writeFileSync(join(dir, "runs", "stray.yaml"), "runner: x\n");
    expect(loadExperimentSpec("toy", dir).name).to.equal("toy");
    expect(loadExperimentSpec("attribution/toy-file", dir).name).to.equal("toy");
    expect(loadExperimentSpec(join(dir, "attribution", "toy-file.json")).name).to.equal("toy");
    expect(listExperimentSpecs(dir).map((s) => s.name)).to.deep.equal(["toy"]);
    expect(refusal(() => loadExperimentSpec("nonesuch", dir))).to.deep.equal({ code: "experiment/unknown-name", fields: { name: "nonesuch", known: ["toy"], unreadable: [] } });
    writeFileSync(join(dir, "broken.yaml"), "runner: [unclosed\n");
    expect(refusal(() => loadExperimentSpec(join(dir, "broken.yaml"))).code).to.equal("experiment/unparsable");
    expect(refusal(() => loadExperimentSpec(join(dir, "absent.yaml"))).code).to.equal("experiment/not-found");
  });

  it("tells spec kinds apart by the kind each file declares", () => {
    const dir = mkdtempSync(join(tmpdir(), "lab-kinds-"));
    writeFileSync(join(dir, "toy.yaml"), stringifyYaml(base()));
    writeFileSync(join(dir, "factory.yaml"), "kind: factory\nname: fmnist\nclaims: []\n");
    writeFileSync(join(dir, "config.yaml"), "runner: x\nclaims: []\n");
    expect(experimentSpecFiles(dir).map((f) => f.slice(dir.length + 1))).to.deep.equal(["toy.yaml"]);
    expect(refusal(() => validateExperimentSpec({ ...base(), kind: "factory" }, "toy.yaml"))).to.deep.include({ code: "experiment/wrong-kind" });
    expect(refusal(() => validateExperimentSpec({ ...base(), kind: "factory" }, "toy.yaml")).fields).to.include({ field: "kind", expected: "experiment" });
    const { kind: _, ...noKind } = base();
    expect(refusal(() => validateExperimentSpec(noKind, "toy.yaml")).fields).to.include({ field: "kind" });
  });

  it("a spec that does not read affects only itself: the others load by name and in a scan", () => {
    const dir = mkdtempSync(join(tmpdir(), "lab-one-bad-"));
    writeFileSync(join(dir, "toy.yaml"), stringifyYaml(base()));
    writeFileSync(join(dir, "broken.yaml"), "kind: experiment\nrunner: [unclosed\n");
    writeFileSync(join(dir, "no-params.yaml"), stringifyYaml({ ...base(), name: "no-params", params: undefined }));
    expect(loadExperimentSpec("toy", dir).name).to.equal("toy");
    const { specs, refused } = scanExperimentSpecs(dir);
    expect(specs.map((s) => s.name)).to.deep.equal(["toy"]);
    expect(refused.map((e) => [e.code, e.fields.file])).to.have.deep.members([
      ["experiment/unparsable", relative(fromRoot(), join(dir, "broken.yaml"))],
      ["experiment/missing-field", relative(fromRoot(), join(dir, "no-params.yaml"))],
    ]);
    expect(refusal(() => loadExperimentSpec("nonesuch", dir)).fields).to.include({ name: "nonesuch" });
  });

  it("gives params for full, quick and overridden runs, and the --set fields typed by the params", () => {
    const spec = validateExperimentSpec(base(), "toy.yaml");
    expect(experimentParams(spec)).to.deep.equal(spec.params);
    expect(experimentParams(spec, { quick: true })).to.deep.equal({ ...spec.params, n: 10 });
    expect(experimentParams(spec, { quick: true, overrides: { n: 5, seed: 2 } })).to.deep.include({ n: 5, seed: 2 });
    expect(overrideFields(spec).map((f) => [f.key, f.type])).to.deep.equal([
      ["seed", "number"],
      ["n", "number"],
      ["lr", "number"],
      ["sizes", "number[]"],
    ]);
  });

  it("judges targets at their edges and refuses a malformed one", () => {
    expect(targetStatus(">= 0.75", 0.75)).to.equal("met");
    expect(targetStatus(">= 0.75", 0.7499)).to.equal("MISSED");
    expect(targetStatus("<= 0.1", 0.2)).to.equal("MISSED");
    expect(targetStatus("> 0", 0)).to.equal("MISSED");
    expect(targetStatus("< 1", 0.5)).to.equal("met");
    expect(targetStatus(">= 1e-3", 0.002)).to.equal("met");
    expect(targetStatus(undefined, 3)).to.equal("");
    expect(parseTarget("<= -0.5")).to.deep.equal({ op: "<=", threshold: -0.5 });
    expect(refusal(() => targetStatus("about 5", 5))).to.deep.equal({ code: "experiment/bad-target", fields: { target: "about 5" } });
  });

  it("judges claims within tolerance; a missing or non-finite metric does not hold", () => {
    const spec = validateExperimentSpec(base(), "toy.yaml");
    const results = judgeClaims(spec, { lds: 0.549, lds_trak_10: Number.NaN });
    expect(results.map((r) => [r.metric, r.holds, r.targetStatus])).to.deep.equal([
      ["lds", true, "met"],
      ["lds_trak_10", false, ""],
      ["auc", false, ""],
    ]);
    expect(judgeClaims(spec, { lds: 0.551, lds_trak_10: 0.9, auc: 0.8 }).map((r) => r.holds)).to.deep.equal([false, true, true]);
    expect(judgeClaims(spec, { lds: 0.3, lds_trak_10: 0.9, auc: 0.8 })[0].targetStatus).to.equal("MISSED");
  });

  it("reads quickClaims as the claims of quick mode, judged in quick mode only, and refuses them without a quick block", () => {
    const raw = withChange((s) => {
      s.quickClaims = [{ metric: "lds_trak_5", value: 0.7, tolerance: 0.05 }];
    });
    const spec = validateExperimentSpec(raw, "toy.yaml");
    expect(spec.quickClaims).to.deep.equal([{ metric: "lds_trak_5", value: 0.7, tolerance: 0.05 }]);
    expect(validateExperimentSpec(base(), "toy.yaml").quickClaims).to.deep.equal([]);
    expect(judgeClaims(spec, { lds_trak_5: 0.74 }, { quick: true }).map((r) => [r.metric, r.holds])).to.deep.equal([["lds_trak_5", true]]);
    expect(judgeClaims(spec, { lds_trak_5: 0.76 }, { quick: true })[0].holds).to.equal(false);
    expect(judgeClaims(spec, { lds_trak_5: 0.7 }).map((r) => r.metric)).to.deep.equal(["lds", "lds_trak_10", "auc"]);
    const noQuick = withChange((s) => {
      s.quickClaims = [];
      delete s.quick;
    });
    expect(refusal(() => validateExperimentSpec(noQuick, "toy.yaml"))).to.deep.include({ code: "experiment/missing-field" });
    expect(refusal(() => validateExperimentSpec(noQuick, "toy.yaml")).fields).to.include({ field: "quick" });
    const repeated = withChange((s) => {
      s.quickClaims = [
        { metric: "auc", value: 0.7, tolerance: 0 },
        { metric: "auc", value: 0.8, tolerance: 0 },
      ];
    });
    expect(refusal(() => validateExperimentSpec(repeated, "toy.yaml")).fields).to.include({ field: "quickClaims[1].metric", metric: "auc" });
  });

  it("has quick claims recorded for every experiment spec under experiments/ that has a quick block", () => {
    for (const spec of listExperimentSpecs()) if (Object.keys(spec.quick).length) expect(spec.quickClaims, spec.name).to.not.be.empty;
  });

  it("lays out the evaluation table: one row per claim and anchor, quick runs judged on the recorded claim", () => {
    const spec = validateExperimentSpec(base(), "toy.yaml");
    const full = evaluationRows([spec], { toy: { lds: 0.3, lds_trak_10: 0.95, auc: 0.8 } }, { quick: false });
    expect(full.map((r) => [r.metric, r["ours (this run)"], r.status, r.anchor, r["anchor source"]])).to.deep.equal([
      ["lds", 0.3, "MISSED", "≈ 0.8", "dattri benchmark (Deng et al., 2024)"],
      ["lds", 0.3, "MISSED", "not reported", "TRAK (Park et al., ICML 2023)"],
      ["lds_trak_10", 0.95, "", "—", ""],
      ["auc", 0.8, "", "—", ""],
    ]);
    const quick = evaluationRows([spec], { toy: { lds: 0.3, lds_trak_5: 0.7, auc: 0.8 } }, { quick: true });
    expect(quick.map((r) => [r["ours (this quick run)"], r.status])).to.deep.equal([
      [0.3, "met"],
      [0.3, "met"],
      [0.7, ""],
      [0.8, ""],
    ]);
    const withQuickClaims = validateExperimentSpec(
      withChange((s) => {
        s.quickClaims = [
          { metric: "lds_trak_5", value: 0.72, tolerance: 0.01 },
          { metric: "auc", value: 0.8, tolerance: 0 },
        ];
      }),
      "toy.yaml",
    );
    const judged = evaluationRows([withQuickClaims], { toy: { lds: 0.3, lds_trak_5: 0.7, auc: 0.8 } }, { quick: true });
    expect(judged.map((r) => [r.metric, r["quick claim"], r["quick claim holds"]])).to.deep.equal([
      ["lds", "—", ""],
      ["lds", "—", ""],
      ["lds_trak_10", "0.72 ± 0.01", "NO"],
      ["auc", "0.8 ± 0", "yes"],
    ]);
    expect(full[0]).to.not.have.property("quick claim");
  });

  it("every spec under experiments/ loads, cites its anchors by name and never says where a value was looked up", () => {
    const specs = listExperimentSpecs();
    expect(specs.map((s) => s.name)).to.include.members(["logreg-fmnist", "mlp-fmnist", "lora-datanets", "factory-contributors", "lm-datanets", "lm-transformations", "lm-languages"]);
    for (const spec of specs) {
      for (const a of spec.anchors) {
        expect(a.source, `${spec.name} ${a.metric}`).to.match(/\(.*\d{4}\)/);
        expect(`${a.source} ${a.setting} ${a.method}`).to.not.match(/github|readme|https?:|arxiv|stored|copy|looked|readable/i);
      }
    }
    const logreg = specs.find((s) => s.name === "logreg-fmnist")!;
    expect(logreg.anchors.find((a) => a.metric === "lds_trak_10")?.value).to.equal(0.64);
    expect(specs.find((s) => s.name === "mlp-fmnist")!.anchors.find((a) => a.metric === "lds_tracin_cp")?.value).to.equal(0.15);
  });
});
