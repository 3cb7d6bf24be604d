import { expect } from "chai";
import { applyOverrides, type OverrideField, overrideTypeOf, splitSetPair, typeOverride, typeOverrides } from "../../../lib/overrides.js";
import { refusal } from "../expect-code.js";

describe("--set overrides (one typed parser for run, reproduce and factory)", () => {
  const fields: OverrideField[] = [
    { key: "seed", type: "integer", default: 42 },
    { key: "lr", type: "number" },
    { key: "quick", type: "boolean" },
    { key: "name", type: "string" },
    { key: "schedule.kind", type: "string", oneOf: ["constant", "cosine"] },
    { key: "training.steps", type: "integer", nullable: true },
    { key: "lissaIterations", type: "number[]" },
    { key: "data.datanets", type: "string[]" },
  ];

  it("splits at the first '=' and refuses a pair without key or '='", () => {
    expect(splitSetPair("label=a=b")).to.deep.equal(["label", "a=b"]);
    expect(splitSetPair("name=")).to.deep.equal(["name", ""]);
    expect(refusal(() => splitSetPair("novalue"))).to.deep.equal({ code: "set/malformed", fields: { pair: "novalue" } });
    expect(refusal(() => splitSetPair("=3")).code).to.equal("set/malformed");
    expect(refusal(() => splitSetPair(undefined)).fields).to.deep.equal({ pair: null });
  });

  it("types each value by its field", () => {
    expect(
      typeOverrides(["seed=7", "lr=-2.5e-1", "quick=true", "name=x y", "schedule.kind=cosine", "training.steps=null", "lissaIterations=[1, 2, 10]", "data.datanets=a,b"], fields, "t"),
    ).to.deep.equal({
      seed: 7,
      lr: -0.25,
      quick: true,
      name: "x y",
      "schedule.kind": "cosine",
      "training.steps": null,
      lissaIterations: [1, 2, 10],
      "data.datanets": ["a", "b"],
    });
  });

  it("refuses wrong types with the key, the type expected and the text given", () => {
    expect(refusal(() => typeOverride(fields[0], "seven", "spec x"))).to.deep.equal({ code: "set/wrong-type", fields: { key: "seed", expected: "integer", value: "seven", where: "spec x" } });
    expect(refusal(() => typeOverride(fields[0], "1.5")).fields.expected).to.equal("integer");
    expect(refusal(() => typeOverride(fields[1], "")).code).to.equal("set/wrong-type");
    expect(refusal(() => typeOverride(fields[1], "Infinity")).code).to.equal("set/wrong-type");
    expect(refusal(() => typeOverride(fields[2], "yes")).fields).to.include({ key: "quick", expected: "boolean", value: "yes" });
    expect(refusal(() => typeOverride(fields[1], "null")).code).to.equal("set/wrong-type");
    expect(refusal(() => typeOverride(fields[6], "1,two")).fields).to.include({ key: "lissaIterations", expected: "number[]" });
    expect(refusal(() => typeOverride(fields[4], "linear"))).to.deep.equal({
      code: "set/not-allowed",
      fields: { key: "schedule.kind", value: "linear", allowed: ["constant", "cosine"], where: "the command" },
    });
  });

  it("refuses unknown and repeated keys, naming the keys there are", () => {
    const unknown = refusal(() => typeOverrides(["sed=3"], fields, "experiment e"));
    expect(unknown.code).to.equal("set/unknown-key");
    expect(unknown.fields).to.deep.include({ key: "sed", where: "experiment e" });
    expect(unknown.fields.known).to.deep.equal(fields.map((f) => f.key));
    expect(refusal(() => typeOverrides(["seed=1", "seed=2"], fields)).code).to.equal("set/repeated-key");
  });

  it("gives the default as the example of a refusal's fix", () => {
    expect(() => typeOverride(fields[0], "x"))
      .to.throw()
      .with.property("hint")
      .that.contains("--set seed=42");
  });

  it("sets dotted keys in a copy and infers types from defaults", () => {
    const spec = { training: { steps: 300, batch_size: 64 }, seed: 1 };
    const out = applyOverrides(spec, { "training.steps": 10, seed: 2, "output.dir": "x" });
    expect(out).to.deep.equal({ training: { steps: 10, batch_size: 64 }, seed: 2, output: { dir: "x" } });
    expect(spec.training.steps).to.equal(300);
    expect([1, true, "a", [1, 2], ["a"], { a: 1 }, [1, "a"]].map(overrideTypeOf)).to.deep.equal(["number", "boolean", "string", "number[]", "string[]", undefined, undefined]);
  });
});
