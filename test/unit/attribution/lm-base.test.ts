import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { AttributionError } from "../../../lib/attribution/errors.js";
import { buildLmDatanets, type LmDatanetParams, lmAttribution } from "../../../lib/attribution/experiments/index.js";
import { lmGradientChunk } from "../../../lib/attribution/factory-model.js";
import { DEFAULT_LM_BASE, LM_BASE_MODELS, loadLmBase } from "../../../lib/attribution/lm-base.js";
import { SENTENCE_TRANSFORMATIONS, shortSentences, TRANSFORMATION_SEPARATOR } from "../../../lib/attribution/lm-transformations.js";
import { DEFAULT_GRADIENT_CHUNK } from "../../../lib/attribution/model.js";
import { BpeTokenizer, countParams, fortunesTokenizer, gptConfig } from "../../../lib/intelligence/index.js";
import { initTf } from "../../../lib/tf/index.js";
import { expectCode } from "../expect-code.js";
import { tinyLmParams } from "./fixtures.js";

// the smallest experiment, on the BPE base's sentence transformations
const tiny: LmDatanetParams = {
  ...tinyLmParams,
  datanets: "sentence-transformations",
  base: "fortunes-bpe-gpt",
  documentsPerDatanet: 8,
  heldOutPerDatanet: 1,
  stride: 8, // a sentence and its transformation are about 20 BPE tokens: more windows than TRAK's 8 dimensions
  promptChars: 24,
  continuationChars: 24,
  ldsSubsets: 0,
  counterfactualTests: 0,
};

describe("attribution: the language model's base, chosen by the `base` param", function () {
  this.timeout(300_000);

  it("is the character model when a spec names none, and fortunes-bpe-gpt brings the BPE tokenizer saved beside its weights", async () => {
    const { tf } = await initTf({ quiet: true });
    const char = await loadLmBase(tf, { pretrain: "quick", baseSeed: 1 });
    expect(char.name).to.equal(DEFAULT_LM_BASE).and.equal("fortunes-gpt");
    expect(char.tokenizer.vocab).to.deep.equal(fortunesTokenizer().vocab);
    const bpe = await loadLmBase(tf, { base: "fortunes-bpe-gpt", pretrain: "quick", baseSeed: 1 });
    expect(bpe.tokenizer).to.be.instanceOf(BpeTokenizer);
    expect(bpe.tokenizer.vocab).to.have.length(2048);
    expect(bpe.blockSize).to.equal(48);
    // the transformation datanets become windows of BPE ids, each decoding to its contributor's text
    const dn = buildLmDatanets(tiny, bpe.blockSize, (s) => bpe.tokenizer.encode(s));
    expect(dn.datanets).to.deep.equal(SENTENCE_TRANSFORMATIONS.map((t) => t.name));
    expect(Array.from(dn.data.x).every((id) => id < 2048)).to.equal(true);
    const text = bpe.tokenizer.decode(dn.data.x.subarray(0, bpe.blockSize));
    const contributorText = dn.documents.filter((d) => d.contributor === dn.contributorOf[0]).map((d) => `${d.text}\n\n`);
    expect(contributorText.join("").startsWith(text)).to.equal(true);
    // each window's document is the one holding its middle token, counted in tokens, not characters:
    // a contributor's windows start every `stride` tokens of its documents joined by blank lines
    for (let i = 0; i < dn.data.n; i++) {
      const mine = dn.documents.filter((d) => d.contributor === dn.contributorOf[i]);
      const k = mine.indexOf(dn.documents[dn.documentOf[i]]);
      expect(k, `window ${i}: a document of its own contributor`).to.be.at.least(0);
      const tokensBefore = (j: number) =>
        bpe.tokenizer.encode(
          mine
            .slice(0, j)
            .map((d) => `${d.text}\n\n`)
            .join(""),
        ).length;
      const middle = (i - dn.contributorOf.indexOf(dn.contributorOf[i])) * tiny.stride + bpe.blockSize / 2;
      expect(middle, `window ${i}`).to.be.at.least(tokensBefore(k));
      if (k + 1 < mine.length) expect(middle, `window ${i}`).to.be.below(tokensBefore(k + 1));
    }
    for (const w of [char, bpe]) for (const t of Object.values(w.weights)) t.dispose();
  });

  it("fortunes-bpe-gpt-wide is twice as deep and wide with a 64-token block over the identical tokenizer, which holds the paper's named documents whole", async () => {
    expect(LM_BASE_MODELS).to.include.members(["fortunes-gpt", "fortunes-bpe-gpt", "fortunes-bpe-gpt-wide"]);
    expect(gptConfig("fortunes-bpe-gpt-wide")).to.deep.equal({ vocabSize: 2048, blockSize: 64, nLayer: 4, nHead: 4, nEmbd: 128 });
    const { tf } = await initTf({ quiet: true });
    const wide = await loadLmBase(tf, { base: "fortunes-bpe-gpt-wide", pretrain: "quick", baseSeed: 1 });
    const narrow = await loadLmBase(tf, { base: "fortunes-bpe-gpt", pretrain: "quick", baseSeed: 1 });
    expect(wide.blockSize).to.equal(64);
    expect(countParams(wide.weights)).to.be.within(1.3e6, 1.35e6);
    // the same merges, byte for byte, so a text is the same ids on either base
    expect(wide.tokenizer).to.be.instanceOf(BpeTokenizer);
    expect((wide.tokenizer as BpeTokenizer).serialize()).to.equal((narrow.tokenizer as BpeTokenizer).serialize());
    // the paper's protocol: each named document one training point; its longest (52 tokens) overflows 48 + 1, fits 64 + 1
    const paper = {
      ...tiny,
      documentsPerDatanet: 90,
      heldOutPerDatanet: 10,
      sentences: "fortunes" as const,
      continuationChars: 48,
      transformationPrompt: "named" as const,
      trainingPoints: "documents" as const,
    };
    const enc = (s: string) => wide.tokenizer.encode(s);
    expectCode(() => buildLmDatanets(paper, narrow.blockSize, enc), AttributionError, "lm/document-exceeds-block", { blockSize: 48 });
    const dn = buildLmDatanets(paper, wide.blockSize, enc);
    expect(dn.data.n).to.equal(900);
    expect(Math.max(...dn.documents.map((d) => enc(d.text).length))).to.be.within(49, 65);
    // its batched gradient pass on wasm takes 75 windows at a time (256 outgrew the 4 GiB heap); every earlier base keeps 256
    expect(lmGradientChunk(gptConfig("fortunes-bpe-gpt-wide"))).to.equal(75);
    expect(lmGradientChunk(gptConfig("fortunes-bpe-gpt"))).to.equal(DEFAULT_GRADIENT_CHUNK);
    expect(lmGradientChunk(gptConfig("fortunes-gpt"))).to.equal(DEFAULT_GRADIENT_CHUNK);
    for (const w of [wide, narrow]) for (const t of Object.values(w.weights)) t.dispose();
  });

  it("draws the transformed sentences from the full English collection when asked: the DataInf paper's 90 per datanet", () => {
    const paper = { ...tiny, documentsPerDatanet: 90, heldOutPerDatanet: 10 };
    expect(shortSentences(10, 21)).to.have.length(69);
    expect(shortSentences(10, 21, "fortunes")).to.have.length(1357);
    expectCode(() => buildLmDatanets(paper, 48, (s) => fortunesTokenizer().encode(s)), AttributionError, "lm/too-few-documents", { available: 69 });
    const dn = buildLmDatanets({ ...paper, sentences: "fortunes" }, 48, (s) => fortunesTokenizer().encode(s));
    expect(dn.documents).to.have.length(900);
    const held = new Set(dn.heldOut[0].map((t) => t.prompt));
    expect(dn.documents.some((d) => held.has(d.text.split(TRANSFORMATION_SEPARATOR)[0] + TRANSFORMATION_SEPARATOR))).to.equal(false);
  });

  it("scores a sampled continuation by the ids it sampled: a full block of BPE tokens whose text re-encodes longer runs", async () => {
    // hot sampling draws lone bytes of multi-byte characters (each decodes to U+FFFD, three bytes)
    // and non-canonical splits: the decoded text takes more tokens than were sampled
    const p = { ...tiny, continuationChars: 48, temperature: 4, trakModels: 1 };
    const { tf } = await initTf({ quiet: true });
    const bpe = await loadLmBase(tf, p);
    const r = await lmAttribution(p);
    expect(r.generated).to.have.length(SENTENCE_TRANSFORMATIONS.length);
    expect(r.generated.some((g) => bpe.tokenizer.encode(g.continuation).length > bpe.blockSize)).to.equal(true);
    for (const k of ["datainf", "tracin_cp", "trak", "grad_cos"]) expect(r.rollups[k].datanets).to.have.length(SENTENCE_TRANSFORMATIONS.length);
    for (const t of Object.values(bpe.weights)) t.dispose();
  });

  it("runs the whole experiment on fortunes-bpe-gpt and reproduces under its seed", async () => {
    const a = await lmAttribution({ ...tiny, gradientStore: mkdtempSync(join(tmpdir(), "lm-bpe-")) });
    const b = await lmAttribution({ ...tiny, gradientStore: mkdtempSync(join(tmpdir(), "lm-bpe-")) });
    for (const k of ["datainf", "tracin_cp", "trak", "grad_cos"]) expect(a.metrics[`auc_${k}`]).to.be.within(0, 1);
    const stable = (m: Record<string, number>) => Object.fromEntries(Object.entries(m).filter(([k]) => !k.includes("seconds") && !k.startsWith("gradient_sets")));
    expect(stable(b.metrics)).to.deep.equal(stable(a.metrics));
  });
});
