import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { SOLIDITY_SOURCES } from "../../../lib/cli/commands/lint.js";
import { fromRoot } from "../../../lib/files.js";

const solhint = (cwd: string) => spawnSync(fromRoot("node_modules", ".bin", "solhint"), ["--max-warnings", "0", SOLIDITY_SOURCES], { cwd, encoding: "utf8" });

describe("./lab lint: solhint over the contracts", function () {
  this.timeout(120_000);

  it("finds the contracts clean under .solhint.json", () => {
    const r = solhint(fromRoot());
    expect(r.status, r.stdout).to.equal(0);
  });

  it("fails on a function without NatSpec and on a require with a reason string, under the same rules", () => {
    const dir = mkdtempSync(join(tmpdir(), "lab-solhint-"));
    copyFileSync(fromRoot(".solhint.json"), join(dir, ".solhint.json"));
    mkdirSync(join(dir, "contracts"));
    writeFileSync(
      join(dir, "contracts", "Bad.sol"),
      '// SPDX-License-Identifier: MIT\npragma solidity ^0.8.28;\n\n/// @notice A contract.\ncontract Bad {\n    function f(uint256 x) external pure returns (uint256) {\n        require(x > 0, "zero");\n        return x;\n    }\n}\n',
    );
    const r = solhint(dir);
    expect(r.status).to.not.equal(0);
    expect(r.stdout).to.include("use-natspec").and.include("gas-custom-errors");
  });
});
