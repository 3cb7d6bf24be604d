import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { expect } from "chai";
import ts from "typescript";
import { fromRoot } from "../../../lib/files.js";

/**
 * The layers of lib/, bottom first (experiments: the experiment-spec module, on the base only; da: data availability,
 * which posts the ledger's frames; serving: OpenLoRA, which serves the Intelligence layer's models; loop: the three
 * layers run as one cycle, above them and beside the notebook helpers). A file may import its own layer, any lower rank, and the
 * peers named in PEERS; anything else points the wrong way. Keyed by the first folder under
 * lib/ ("base" for the files directly in lib/).
 */
const RANK: Record<string, number> = {
  base: 0,
  chain: 1,
  tf: 1,
  experiments: 1,
  ledger: 2,
  intelligence: 2,
  attribution: 2,
  da: 3,
  serving: 3,
  loop: 4,
  notebook: 4,
  runner: 5,
  cli: 5,
  bench: 5,
  "gpu-bundle": 5,
};
/** Same-rank imports that are part of the design: attribution explains Intelligence's models; the CLI drives the runner, the benchmarks and the GPU check. */
const PEERS: Record<string, readonly string[]> = { attribution: ["intelligence"], cli: ["runner", "bench", "gpu-bundle"] };

const LIB = fromRoot("lib");

function layerOf(file: string): string {
  const parts = relative(LIB, file).split(sep);
  return parts.length === 1 ? "base" : parts[0];
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.ts$/.test(name) && !name.endsWith(".d.ts") ? [path] : [];
  });
}

/** Every module a file names: static imports, re-exports, import() calls and import("…") types. */
function importsOf(file: string): string[] {
  return ts.preProcessFile(readFileSync(file, "utf8"), true, true).importedFiles.map((f) => f.fileName);
}

/** Why `from` may not import `to` (both layers), or undefined when it may. */
function wrongWay(from: string, to: string): string | undefined {
  if (from === to || (PEERS[from] ?? []).includes(to)) return undefined;
  if (RANK[to] < RANK[from]) return undefined;
  return RANK[to] === RANK[from] ? `${from} and ${to} are peers` : `${to} sits above ${from}`;
}

function violations(): string[] {
  const found: string[] = [];
  for (const file of sourceFiles(LIB)) {
    const from = layerOf(file);
    for (const spec of importsOf(file)) {
      if (!spec.startsWith(".")) continue;
      const target = resolve(dirname(file), spec);
      if (!target.startsWith(LIB + sep)) continue;
      const why = wrongWay(from, layerOf(target));
      if (why) found.push(`${relative(fromRoot(), file)} imports "${spec}" (${why})`);
    }
  }
  return found;
}

/** The lib/ modules each lib/ module imports (any kind of import, type-only ones included), by absolute path. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(LIB)) {
    const targets = importsOf(file)
      .filter((spec) => spec.startsWith("."))
      .map((spec) => resolve(dirname(file), spec).replace(/\.js$/, ".ts"))
      .map((target) => (target.endsWith(".ts") ? target : join(target, "index.ts")))
      .filter((target) => target.startsWith(LIB + sep));
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

/**
 * The import circles of a graph: its strongly connected components of more than one module, or
 * one module importing itself (Tarjan's algorithm), each listed from its first module in path order.
 */
function importCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(component.sort());
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return cycles;
}

describe("architecture: dependencies point one way", () => {
  it("knows the layer of every folder under lib/", () => {
    const folders = readdirSync(LIB).filter((name) => statSync(join(LIB, name)).isDirectory());
    expect(
      folders.filter((f) => RANK[f] === undefined),
      "give each new folder of lib/ a rank here",
    ).to.deep.equal([]);
  });

  it("finds every kind of import, so none slips past", () => {
    const source = [
      'import { a } from "./a.js";',
      'import type { B } from "./b.js";',
      'export { c } from "./c.js";',
      'export * from "./d.js";',
      'const e = await import("./e.js");',
      'let f: import("./f.js").F;',
    ].join("\n");
    const names = ts.preProcessFile(source, true, true).importedFiles.map((f) => f.fileName);
    expect(names).to.have.members(["./a.js", "./b.js", "./c.js", "./d.js", "./e.js", "./f.js"]);
  });

  it("refuses imports upward and between peers, and allows them downward", () => {
    expect(wrongWay("chain", "notebook")).to.equal("notebook sits above chain");
    expect(wrongWay("intelligence", "notebook")).to.equal("notebook sits above intelligence");
    expect(wrongWay("base", "chain")).to.equal("chain sits above base");
    expect(wrongWay("ledger", "intelligence")).to.equal("ledger and intelligence are peers");
    expect(wrongWay("intelligence", "attribution")).to.equal("intelligence and attribution are peers");
    expect(wrongWay("attribution", "intelligence")).to.equal(undefined);
    expect(wrongWay("notebook", "intelligence")).to.equal(undefined);
    expect(wrongWay("cli", "base")).to.equal(undefined);
  });

  it("has no import in lib/ that points the wrong way", () => {
    expect(violations()).to.deep.equal([]);
  });

  it("finds import circles, within a layer and across it", () => {
    const graph = new Map([
      ["a", ["b"]],
      ["b", ["c"]],
      ["c", ["a"]],
      ["d", ["d"]],
      ["e", ["a"]],
    ]);
    expect(importCycles(graph)).to.deep.equal([["a", "b", "c"], ["d"]]);
    expect(
      importCycles(
        new Map([
          ["a", ["b"]],
          ["b", []],
        ]),
      ),
    ).to.deep.equal([]);
  });

  it("has no import circle in lib/, inside a layer or across layers", () => {
    const cycles = importCycles(importGraph()).map((c) => `a circle among ${c.map((f) => relative(fromRoot(), f)).join(", ")}`);
    expect(cycles).to.deep.equal([]);
  });
});
