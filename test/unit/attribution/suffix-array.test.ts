import { expect } from "chai";
import {
  attributeByMatch,
  attributeTextByMatch,
  bruteForceDisagreements,
  bruteForceLongestMatch,
  buildIndex,
  buildSuffixArray,
  characterIds,
  count,
  longestMatchAt,
  occurrences,
  textMatchIndex,
} from "../../../lib/attribution/suffix-array.js";
import { rng } from "../../../lib/random.js";

const enc = (s: string) => Int32Array.from(s, (c) => c.charCodeAt(0));

describe("attribution: suffix-array match attribution", () => {
  it("the suffix array sorts all suffixes (checked against a naive sort)", () => {
    const text = enc("mississippi$banana");
    const naive = Array.from(text.keys()).sort((a, b) => {
      for (let k = 0; ; k++) {
        if (a + k >= text.length) return -1;
        if (b + k >= text.length) return 1;
        if (text[a + k] !== text[b + k]) return text[a + k] - text[b + k];
      }
    });
    expect(Array.from(buildSuffixArray(text))).to.deep.equal(naive);
  });

  it("longest matches and counts equal brute force on random corpora, and never cross documents", () => {
    const r = rng(11);
    for (let trial = 0; trial < 20; trial++) {
      const docs = Array.from({ length: 1 + r.int(5) }, () => Int32Array.from({ length: r.int(60) }, () => r.int(3)));
      const idx = buildIndex(docs);
      const query = Int32Array.from({ length: 30 }, () => r.int(3));
      for (let i = 0; i < query.length; i++) {
        expect(longestMatchAt(idx, query, i), `trial ${trial} pos ${i}`).to.deep.equal(bruteForceLongestMatch(docs, query, i));
      }
    }
    const idx = buildIndex([enc("abc"), enc("def")]);
    expect(longestMatchAt(idx, enc("cde"), 0).length).to.equal(1);
    expect(count(idx, enc("c"))).to.equal(1);
  });

  it("attribution by match credits the datanet and document holding the longest span", () => {
    const a = buildIndex([enc("the quick brown fox jumps"), enc("over the lazy dog")]);
    const b = buildIndex([enc("a stitch in time saves nine"), enc("the quick brown cat")]);
    const out = enc("a stitch in time jumps over the lazy dog");
    const m = attributeByMatch([a, b], out, 6);
    // "a stitch in time " (17) from b's first document; "jumps" (5) is below the minimum; " over"
    // would cross a's document boundary, so the next span is "over the lazy dog" (17) from a's second
    expect(m.spans.map((s) => [s.start, s.length, s.datanets])).to.deep.equal([
      [0, 17, [1]],
      [23, 17, [0]],
    ]);
    expect(Array.from(m.datanetScores)).to.deep.equal([17, 17]);
    expect(m.documentScores[0].get(1)).to.equal(17);
    expect(m.documentScores[1].get(0)).to.equal(17);
    expect(m.coverage).to.be.closeTo(34 / 40, 1e-12);
    const occ = occurrences(a, enc("the "), 0, 4);
    expect([...occ.entries()].sort()).to.deep.equal([
      [0, 1],
      [1, 1],
    ]);
  });

  it("matches text datanets character by character and agrees with the brute-force scan", () => {
    const index = textMatchIndex([
      { name: "fortunes", documents: ["a penny saved is a penny earned", "look before you leap"] },
      { name: "riddles", documents: ["what has keys but no locks"] },
    ]);
    const output = "look before a penny saved";
    const m = attributeTextByMatch(index, output, 6);
    expect(m).to.deep.equal(attributeByMatch(index.indexes, characterIds(output), 6));
    expect(m.datanetScores[0]).to.be.greaterThan(0);
    expect(m.datanetScores[1]).to.equal(0);
    expect(bruteForceDisagreements(index, output, m.spans)).to.deep.equal([]);
    // an index built over other documents than the ones scanned disagrees, and says where
    const wrong = { ...index, documents: [index.documents[1], index.documents[0]] };
    expect(bruteForceDisagreements(wrong, output, m.spans.slice(0, 1))).to.deep.equal([
      { start: m.spans[0].start, datanet: "fortunes" },
      { start: m.spans[0].start, datanet: "riddles" },
    ]);
  });
});
