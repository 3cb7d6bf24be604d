import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { expect } from "chai";
import { fromRoot } from "../../../lib/files.js";

/**
 * A tensor leaves the device in lib/ only asynchronously, through lib/tf's readFloats, readScalar
 * and readTensorMap: WebGPU in Node has no synchronous read-back, so one `dataSync()` on the way
 * is a run that works on wasm and stops on a GPU. A synchronous read (`.dataSync(`, `.arraySync(`,
 * a backend's `.readSync(`) is allowed only where the code is CPU-only by design, marked with a
 * `// cpu-only: <why>` comment on its line or the line above.
 */
const SYNC_READ = /\.\s*(dataSync|arraySync|readSync)\s*\(/;
const CPU_ONLY = /\/\/\s*cpu-only:\s*\S/;

/** The 1-based lines of `source` that read synchronously without a cpu-only marker (comment lines aside). */
function unmarkedSyncReads(source: string): { line: number; text: string }[] {
  const lines = source.split("\n");
  const found: { line: number; text: string }[] = [];
  lines.forEach((text, i) => {
    const code = text.trim();
    if (code.startsWith("//") || code.startsWith("*") || code.startsWith("/*")) return;
    if (!SYNC_READ.test(text)) return;
    if (CPU_ONLY.test(text) || (i > 0 && CPU_ONLY.test(lines[i - 1]))) return;
    found.push({ line: i + 1, text: code });
  });
  return found;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith(".ts") && !name.endsWith(".d.ts") ? [path] : [];
  });
}

/** Every unmarked synchronous read in lib/, by repository path. */
function syncReadsInLib(): Map<string, { line: number; text: string }[]> {
  const root = fromRoot();
  const byFile = new Map<string, { line: number; text: string }[]>();
  for (const file of sourceFiles(fromRoot("lib"))) {
    const sites = unmarkedSyncReads(readFileSync(file, "utf8"));
    if (sites.length > 0) byFile.set(relative(root, file).split("\\").join("/"), sites);
  }
  return byFile;
}

describe("no synchronous read-back in lib/", () => {
  it("finds a synchronous read, and lets a cpu-only one and a comment pass", () => {
    const source = [
      "const a = t.dataSync();",
      "// cpu-only: the wasm heap",
      "const b = be.readSync(id);",
      "const c = t.arraySync(); // cpu-only: a host tensor",
      "/** tensor.dataSync() answers from the CPU copy */",
      "const d = await readFloats(t);",
      "const e = w[k].dataSync ();",
    ].join("\n");
    expect(unmarkedSyncReads(source)).to.deep.equal([
      { line: 1, text: "const a = t.dataSync();" },
      { line: 7, text: "const e = w[k].dataSync ();" },
    ]);
  });

  it("reads tensors back only asynchronously, outside code marked cpu-only", () => {
    const stray = [...syncReadsInLib()].flatMap(([file, sites]) => sites.map((s) => `${file}:${s.line}: ${s.text}`));
    expect(stray, "read with readFloats / readScalar / readTensorMap from lib/tf, or mark CPU-only code `// cpu-only: <why>`").to.deep.equal([]);
  });
});
