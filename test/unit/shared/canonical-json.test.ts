import { expect } from "chai";
import { CanonicalJsonError, canonicalJson } from "../../../lib/canonical-json.js";
import { expectCode } from "../expect-code.js";

/** A double from its IEEE 754 bit pattern, as RFC 8785's Appendix B lists them. */
function fromBits(hex: string): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, BigInt(`0x${hex}`));
  return view.getFloat64(0);
}

describe("canonical JSON (RFC 8785, JSON Canonicalization Scheme)", () => {
  // RFC 8785 Appendix B: IEEE 754 bit patterns and their JCS serializations.
  const numbers: [string, string][] = [
    ["0000000000000000", "0"],
    ["8000000000000000", "0"],
    ["0000000000000001", "5e-324"],
    ["8000000000000001", "-5e-324"],
    ["7fefffffffffffff", "1.7976931348623157e+308"],
    ["ffefffffffffffff", "-1.7976931348623157e+308"],
    ["4340000000000000", "9007199254740992"],
    ["c340000000000000", "-9007199254740992"],
    ["4430000000000000", "295147905179352830000"],
    ["44b52d02c7e14af5", "9.999999999999997e+22"],
    ["44b52d02c7e14af6", "1e+23"],
    ["44b52d02c7e14af7", "1.0000000000000001e+23"],
    ["444b1ae4d6e2ef4e", "999999999999999700000"],
    ["444b1ae4d6e2ef4f", "999999999999999900000"],
    ["444b1ae4d6e2ef50", "1e+21"],
    ["3eb0c6f7a0b5ed8c", "9.999999999999997e-7"],
    ["3eb0c6f7a0b5ed8d", "0.000001"],
    ["41b3de4355555553", "333333333.3333332"],
    ["41b3de4355555554", "333333333.33333325"],
    ["41b3de4355555555", "333333333.3333333"],
    ["41b3de4355555556", "333333333.3333334"],
    ["41b3de4355555557", "333333333.33333343"],
    ["becbf647612f3696", "-0.0000033333333333333333"],
    ["43143ff3c1cb0959", "1424953923781206.2"],
  ];
  for (const [bits, expected] of numbers) {
    it(`number ${bits} -> ${expected}`, () => expect(canonicalJson(fromBits(bits))).to.equal(expected));
  }

  it("refuses NaN and Infinity (Appendix B's 7fffffffffffffff and 7ff0000000000000)", () => {
    expectCode(() => canonicalJson(fromBits("7fffffffffffffff")), CanonicalJsonError, "json/not-canonical", { path: "(root)", got: "NaN" });
    expectCode(() => canonicalJson({ lr: fromBits("7ff0000000000000") }), CanonicalJsonError, "json/not-canonical", { path: "lr", got: "Infinity" });
  });

  it("section 3.2.2's sample: literals, numbers and string escapes", () => {
    const input = JSON.parse(
      '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/", "literals": [null, true, false]}',
    );
    expect(canonicalJson(input)).to.equal('{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}');
  });

  it("section 3.2.3's sample: members sorted by UTF-16 code units, not by code points or locale", () => {
    const input = JSON.parse(
      '{"\\u20ac": "Euro Sign", "\\r": "Carriage Return", "\\ufb33": "Hebrew Letter Dalet With Dagesh", "1": "One", "\\ud83d\\ude00": "Emoji: Grinning Face", "\\u0080": "Control", "\\u00f6": "Latin Small Letter O With Diaeresis"}',
    );
    expect(canonicalJson(input)).to.equal(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
    expect(canonicalJson({ b: 1, a: { d: [1, 2], c: "x" } })).to.equal('{"a":{"c":"x","d":[1,2]},"b":1}');
  });

  it("leaves out undefined members, writes typed arrays as arrays, refuses what I-JSON cannot hold", () => {
    expect(canonicalJson({ b: 1, e: undefined })).to.equal('{"b":1}');
    expect(canonicalJson(Float64Array.of(0.1, 2, -0))).to.equal("[0.1,2,0]");
    expectCode(() => canonicalJson({ when: new Date(0) }), CanonicalJsonError, "json/not-canonical", { path: "when", got: "a Date object" });
    expectCode(() => canonicalJson({ n: 1n }), CanonicalJsonError, "json/not-canonical", { path: "n", got: "a bigint" });
    expectCode(() => canonicalJson(["\ud800"]), CanonicalJsonError, "json/not-canonical", { path: "[0]", got: "a string with a lone surrogate" });
    expectCode(() => canonicalJson([undefined]), CanonicalJsonError, "json/not-canonical", { path: "[0]", got: "undefined" });
  });
});
