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

  it("injects assignments that keep the declared types", () => {
    expect(injectedCellSource({ seed: 7, name: 'x"y', quick: true })).to.equal('// Parameters injected by ./lab run\nseed = 7;\nname = "x\\"y";\nquick = true;');
  });
});
