import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "chai";

/** Every `error Name(` declared by the lab's contracts (contracts/test holds test helpers only). */
function declaredErrors(dir: string): { contract: string; error: string }[] {
  const out: { contract: string; error: string }[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== "test") out.push(...declaredErrors(path));
    } else if (entry.name.endsWith(".sol")) {
      for (const m of readFileSync(path, "utf8").matchAll(/^\s*error (\w+)\(/gm)) out.push({ contract: entry.name, error: m[1]! });
    }
  }
  return out;
}

describe("Custom errors", () => {
  it("every custom error the contracts declare is reached by a test that expects it by name", () => {
    const tests = readdirSync("test/contracts")
      .filter((f) => f.endsWith(".test.ts") && f !== "CustomErrors.test.ts")
      .map((f) => readFileSync(join("test/contracts", f), "utf8"))
      .join("\n");
    const declared = declaredErrors("contracts");
    expect(declared.length).to.be.greaterThan(80);
    const unreached = declared.filter((d) => !new RegExp(`["\\s]${d.error}["\\s:]`).test(tests)).map((d) => `${d.contract}: ${d.error}`);
    expect(unreached).to.deep.equal([]);
  });
});
