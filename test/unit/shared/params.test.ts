import { expect } from "chai";
import { coerceParameter, injectedCellSource, ParameterError, parseParameterCell } from "../../../lib/notebook/params.js";
import { OverrideError } from "../../../lib/overrides.js";
import { expectCode } from "../expect-code.js";

describe("notebook parameters", () => {
  it("parses let declarations with literal defaults and infers their types", () => {
    const specs = parseParameterCell(`// defaults\nlet quick = false;\nlet seed = 42;\nlet rate: number = 1e-3;\nlet name = "fashion";\nlet mode = 'a\\'b';\n`);
    expect(specs).to.deep.equal([
      { name: "quick", type: "boolean", default: false },
      { name: "seed", type: "number", default: 42 },
      { name: "rate", type: "number", default: 0.001 },
      { name: "name", type: "string", default: "fashion" },
      { name: "mode", type: "string", default: "a'b" },
    ]);
  });

  it("refuses a parameters cell with anything but literal declarations", () => {
    expectCode(() => parseParameterCell("let x = Math.random();"), ParameterError, "params/not-a-declaration", { line: "let x = Math.random();" });
    expectCode(() => parseParameterCell("const x = 1;"), ParameterError, "params/not-a-declaration");
    expectCode(() => parseParameterCell("let x: string = 3;"), ParameterError, "params/default-type-mismatch", { parameter: "x", declared: "string" });
  });

  it("types overrides and refuses ill-typed ones with a fix", () => {
    const num = { name: "seed", type: "number" as const, default: 1 };
    const bool = { name: "quick", type: "boolean" as const, default: false };
    expect(coerceParameter(num, "7")).to.equal(7);
    expect(coerceParameter(num, "-2.5e1")).to.equal(-25);
    expect(coerceParameter(bool, "true")).to.equal(true);
    expect(() => coerceParameter(num, "seven"))
      .to.throw(OverrideError)
      .with.property("code", "set/wrong-type");
    expect(() => coerceParameter(num, ""))
      .to.throw(OverrideError)
      .with.property("fields")
      .that.deep.equals({ key: "seed", expected: "number", value: "", where: "the notebook" });
    expect(() => coerceParameter(bool, "yes", "05"))
      .to.throw(OverrideError)
      .with.property("fields")
      .that.deep.equals({ key: "quick", expected: "boolean", value: "yes", where: "05" });
  });

  it("reads the kind and bounds declared beside a parameter, and refuses a default outside them", () => {
    const specs = parseParameterCell(
      "let quick = false; // boolean: the small mode\nlet samples = 5000; // int ≥ 1: points drawn\nlet rate = 0.5; // number > 0, ≤ 1\nlet note = 1; // plain words, no kind",
    );
    expect(specs).to.deep.equal([
      { name: "quick", type: "boolean", default: false, declared: "boolean" },
      { name: "samples", type: "number", default: 5000, integer: true, range: { min: 1 }, declared: "int ≥ 1" },
      { name: "rate", type: "number", default: 0.5, range: { min: 0, minExclusive: true, max: 1 }, declared: "number > 0, ≤ 1" },
      { name: "note", type: "number", default: 1 },
    ]);
    expectCode(() => parseParameterCell("let steps = 0; // int ≥ 1"), ParameterError, "params/default-out-of-range", { parameter: "steps", declared: "int ≥ 1" });
    expectCode(() => parseParameterCell("let steps = 2.5; // int"), ParameterError, "params/default-out-of-range", { parameter: "steps" });
    expectCode(() => parseParameterCell('let steps = "x"; // int ≥ 1'), ParameterError, "params/default-type-mismatch", { parameter: "steps", declared: "number" });
  });

  it("checks overrides against the declared kind and bounds", () => {
    const [samples, rate] = parseParameterCell("let samples = 5000; // int ≥ 1\nlet rate = 0.5; // number > 0, ≤ 1");
    expect(coerceParameter(samples, "12")).to.equal(12);
    expect(coerceParameter(rate, "1")).to.equal(1);
    expectCode(() => coerceParameter(samples, "1.5", "00-tour"), OverrideError, "set/wrong-type", { key: "samples", expected: "integer", value: "1.5", where: "00-tour" });
    expectCode(() => coerceParameter(samples, "-3", "00-tour"), OverrideError, "set/out-of-range", { key: "samples", value: "-3", range: "≥ 1", declared: "int ≥ 1", where: "00-tour" });
    expectCode(() => coerceParameter(rate, "0"), OverrideError, "set/out-of-range", { key: "rate", range: "> 0 and ≤ 1" });
  });

  it("injects assignments that keep the declared types", () => {
    expect(injectedCellSource({ seed: 7, name: 'x"y', quick: true })).to.equal('// Parameters injected by ./lab run\nseed = 7;\nname = "x\\"y";\nquick = true;');
  });
});
