import vm from "node:vm";
import { expect } from "chai";
import { cellFirstStack } from "../../../lib/notebook/kernel-errors.js";
import { ParameterError } from "../../../lib/notebook/params.js";

// Code run as tslab runs a cell (vm code named evalmachine.<anonymous>), raising through a library call.
describe("errors in the lab's kernel: the cell and line first, the kernel's frames left out", () => {
  const saved = Error.prepareStackTrace;
  afterEach(() => {
    Error.prepareStackTrace = saved;
  });

  it("names the cell's line right after the message, keeps the library's frames and counts the kernel's", () => {
    Error.prepareStackTrace = cellFirstStack;
    const raise = () => {
      throw new ParameterError({ code: "params/demo", message: "a refusal from the library", hint: "fix it", fields: {} });
    };
    let stack = "";
    try {
      vm.runInThisContext("const first = 1;\nconst second = 2;\n(function cellCode(raise) { raise(); })")(raise);
    } catch (error) {
      stack = (error as Error).stack ?? "";
    }
    const lines = stack.split("\n");
    expect(lines[0]).to.equal("ParameterError: a refusal from the library");
    expect(lines[1]).to.equal("    in your cell, line 3, in cellCode");
    expect(
      lines.some((l) => l.includes("kernel-errors.test.ts")),
      "the library's (here the test's) frame stays",
    ).to.equal(true);
    expect(stack, "no frame of Node's internals").to.not.match(/\(node:|at node:/);
    expect(lines[lines.length - 1]).to.match(/^ {4}\(\d+ frames? of the kernel left out\)$/);
  });
});
