import { expect } from "chai";
import { sampleText } from "../../../lib/attribution/lm-output.js";
import { attributeByMatch, buildIndex } from "../../../lib/attribution/suffix-array.js";
import { charTokenizer, createGpt } from "../../../lib/intelligence/index.js";
import { initTf } from "../../../lib/tf/index.js";

describe("attribution: sampling a language model for match attribution", () => {
  it("the same seed samples the same text, another seed another, and only characters of the vocabulary", async function () {
    this.timeout(30_000);
    const { tf } = await initTf({ quiet: true });
    const tok = charTokenizer("abcdefgh ");
    const model = createGpt(tf, { vocabSize: tok.vocab.length, blockSize: 8, nLayer: 1, nHead: 2, nEmbd: 8 });
    const weights = model.init(1);
    const a = await sampleText(model as never, weights, {}, tok, "abc", 20, 7);
    const b = await sampleText(model as never, weights, {}, tok, "abc", 20, 7);
    const c = await sampleText(model as never, weights, {}, tok, "abc", 20, 8);
    expect(a).to.have.length(20);
    expect(b).to.equal(a);
    expect(c).to.not.equal(a);
    expect([...a].every((ch) => tok.vocab.includes(ch))).to.equal(true);
    // a sampled text can be attributed like any other output
    const enc = (t: string) => Int32Array.from(t, (ch) => ch.charCodeAt(0));
    const m = attributeByMatch([buildIndex([enc(a.slice(0, 10))])], enc(a), 10);
    expect(m.spans[0]).to.deep.include({ start: 0, length: 10 });
    for (const t of Object.values(weights)) t.dispose();
  });
});
