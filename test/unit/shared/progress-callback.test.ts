import { expect } from "chai";
import { progressCallback } from "../../../lib/notebook/progress.js";

describe("notebook: progressCallback draws a layer's onProgress", () => {
  it("starts the line at the first call, shows the stage, and ends it at the total", () => {
    const lines: string[] = [];
    const original = console.error;
    const tty = Object.getOwnPropertyDescriptor(process.stderr, "isTTY");
    // outside a kernel and a terminal, a progress line is printed once per tenth and at the end
    Object.defineProperty(process.stderr, "isTTY", { value: false, configurable: true });
    console.error = (line: string) => lines.push(line);
    try {
      const onProgress = progressCallback("rollup");
      onProgress(0, 4, "opening the chains");
      onProgress(2, 4, "sequencing");
      onProgress(4, 4, "derived");
    } finally {
      console.error = original;
      if (tty) Object.defineProperty(process.stderr, "isTTY", tty);
      else delete (process.stderr as { isTTY?: boolean }).isTTY;
    }
    expect(lines[0]).to.match(/^rollup \[\.{20}\] 0\/4 \(0%\)/);
    expect(lines[0]).to.include("| opening the chains").and.not.include("left");
    expect(lines.some((l) => l.includes("2/4 (50%)") && l.includes("| sequencing"))).to.equal(true);
    expect(lines[lines.length - 1]).to.match(/^rollup \[#{20}\] 4\/4 \(100%\).*\| derived$/);
  });
});
