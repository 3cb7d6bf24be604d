// Exact-match attribution of generated text to a text datanet's contributors, and the flow
// diagram's markup.
import { expect } from "chai";
import { getAddress } from "ethers";
import type { Datanet } from "../../../lib/intelligence/datanets.js";
import { attributeTextByMatch, contributorIndexes } from "../../../lib/loop/completion-attribution.js";
import { LOOP_NODES, loopDiagramSvg } from "../../../lib/loop/diagram.js";
import { LoopError } from "../../../lib/loop/errors.js";
import { expectCode } from "../expect-code.js";

const enc = (s: string) => Int32Array.from(s, (c) => c.charCodeAt(0));
const ADDR = [1, 2, 3].map((i) => getAddress(`0x${String(i).repeat(40)}`));

/** A text datanet of 8-character windows: contributor 0 gives two, 1 gives one, 2 gives one. */
function tinyDatanet(): Datanet {
  const windows = ["the book", "s of old", "quill in", "the book"];
  const owner = [0, 0, 1, 2];
  const x = new Int32Array(windows.length * 8);
  for (const [i, w] of windows.entries()) x.set(enc(w), i * 8);
  return {
    id: "0x01",
    name: "tiny",
    modality: "text",
    x,
    y: x,
    xShape: [8],
    yShape: [8],
    yTrue: x,
    n: windows.length,
    featureSize: 8,
    numClasses: 0,
    contributorOf: Int32Array.from(owner),
    sampleHashes: [],
    contributors: ADDR.map((address, i) => ({ address, name: `c${i}`, kind: "iid" as const, samples: owner.filter((o) => o === i).length })),
  } as unknown as Datanet;
}

describe("exact-match attribution to text contributors", () => {
  it("credits a span to every contributor whose windows hold it, in proportion to occurrences", () => {
    const ci = contributorIndexes(tinyDatanet());
    // "quill in" only contributor 1 has; "the book" contributors 0 and 2 both hold once
    const a = attributeTextByMatch(ci, enc("quill in|the book"), 5);
    const w = new Map(a.aggregate.contributors.map((c) => [getAddress(c.name), c.weight]));
    expect(a.match.coverage).to.be.closeTo(16 / 17, 1e-12);
    expect(w.get(ADDR[1]!)).to.be.closeTo(0.5, 1e-12);
    expect(w.get(ADDR[0]!)).to.be.closeTo(0.25, 1e-12);
    expect(w.get(ADDR[2]!)).to.be.closeTo(0.25, 1e-12);
    // credits land on the windows that hold the spans
    expect(Array.from(a.scores)).to.deep.equal([4, 0, 8, 4]);
  });

  it("credits nothing below the minimum span length", () => {
    const a = attributeTextByMatch(contributorIndexes(tinyDatanet()), enc("quill"), 6);
    expect(a.match.coverage).to.equal(0);
    expect(a.aggregate.contributors.every((c) => c.weight === 0)).to.equal(true);
  });

  it("refuses an image datanet", () => {
    expectCode(() => contributorIndexes({ ...tinyDatanet(), modality: "image" } as Datanet), LoopError, "loop/not-text");
  });
});

describe("the loop's diagram", () => {
  it("draws every step with its note, escaped, and refers to nothing outside itself", () => {
    const svg = loopDiagramSvg({ factory: "accuracy <0.9> & more" });
    for (const n of LOOP_NODES) expect(svg).to.contain(`>${n.title.replace(/&/g, "&amp;").replace(/>/g, "&gt;")}<`);
    expect(svg).to.contain("accuracy &lt;0.9&gt; &amp; more");
    expect(svg).not.to.match(/https?:|href=|<script/);
  });
});
