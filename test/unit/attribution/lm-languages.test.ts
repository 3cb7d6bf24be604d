import { expect } from "chai";
import { AttributionError } from "../../../lib/attribution/errors.js";
import {
  buildLmDatanets,
  heldOutCount,
  identificationAucKey,
  LANGUAGE_DOCUMENT_MAX_CHARS,
  LM_LANGUAGE_COLLECTIONS,
  type LmDatanetParams,
  lmAttribution,
} from "../../../lib/attribution/experiments/index.js";
import { loadFortuneSet } from "../../../lib/intelligence/datasets/text-corpus.js";
import { expectCode, expectCodeAsync } from "../expect-code.js";
import { tinyLmParams } from "./fixtures.js";

// a byte per token: the longest encoding a byte-level tokenizer can give a text
const bytes = (s: string) => Int32Array.from(new TextEncoder().encode(s));

// the smallest run on the language datanets: the BPE base, a few quotations per language
const tiny: LmDatanetParams = {
  ...tinyLmParams,
  datanets: "languages",
  base: "fortunes-bpe-gpt",
  documentsPerDatanet: 6,
  heldOutPerDatanet: 2,
  promptChars: 16,
  continuationChars: 24,
  ldsSubsets: 0,
  counterfactualTests: 0,
};

describe("attribution: language datanets from Debian's English, German and Spanish fortunes", function () {
  this.timeout(300_000);

  it("one datanet per collection: its own quotations, short ones, no ASCII art, the held-out ones in no training window", () => {
    const dn = buildLmDatanets(tiny, 24, bytes);
    expect(dn.datanets).to.deep.equal(["fortunes-en", "fortunes-de", "fortunes-es"]);
    expect(dn.contributors).to.deep.equal(["en-a", "en-b", "de-a", "de-b", "es-a", "es-b"]);
    expect(dn.heldOut.flat()).to.have.length(heldOutCount(tiny));
    LM_LANGUAGE_COLLECTIONS.forEach(({ source }, d) => {
      const corpus = loadFortuneSet(source);
      const fileOf = new Map(corpus.documents.map((doc, i) => [doc, corpus.sources[i]]));
      const mine = dn.documents.filter((doc) => doc.datanet === d);
      expect(mine).to.have.length(tiny.documentsPerDatanet);
      for (const doc of [...mine.map((m) => m.text), ...dn.heldOut[d].map((h) => h.document)]) {
        expect(fileOf.has(doc), `${source.name}: a quotation of its own collection`).to.equal(true);
        expect(fileOf.get(doc)).to.not.include("ascii");
        expect(doc.length).to.be.at.most(LANGUAGE_DOCUMENT_MAX_CHARS);
      }
      for (const h of dn.heldOut[d]) {
        expect(mine.some((m) => m.text === h.document)).to.equal(false);
        expect(h.document.startsWith(h.prompt + h.continuation)).to.equal(true);
        // German and Spanish letters take two bytes: the continuation is cut to fit the block
        expect(bytes(h.continuation).length).to.be.at.most(24);
      }
    });
    // some held-out continuation outside English was cut to fit 24 byte tokens
    expect(
      dn.heldOut
        .slice(1)
        .flat()
        .some((h) => Array.from(h.continuation).length < tiny.continuationChars),
    ).to.equal(true);
    // seeded: the same seed picks the same quotations, another seed others
    expect(buildLmDatanets(tiny, 24, bytes).documents).to.deep.equal(dn.documents);
    expect(buildLmDatanets({ ...tiny, seed: tiny.seed + 1 }, 24, bytes).documents).to.not.deep.equal(dn.documents);
  });

  it("refuses the character base, whose vocabulary holds no German or Spanish letters, before anything loads", async () => {
    await expectCodeAsync(lmAttribution({ ...tiny, base: undefined }), AttributionError, "lm/base-cannot-read-datanets", { datanets: "languages", base: "fortunes-gpt" });
    expectCode(() => buildLmDatanets({ ...tiny, documentsPerDatanet: 100_000 }, 24, bytes), AttributionError, "lm/too-few-documents");
  });

  it("runs on fortunes-bpe-gpt and reports identification per language beside the trigram baseline", async () => {
    const r = await lmAttribution(tiny);
    for (const k of ["datainf", "tracin_cp", "trak", "grad_cos", "exact_match", "infini_gram"] as const) {
      expect(r.metrics[`auc_${k}`], k).to.be.within(0, 1);
      for (const name of r.datanets.datanets) expect(r.metrics[identificationAucKey(k, name)], `${k} ${name}`).to.be.within(0, 1);
    }
    expect(identificationAucKey("datainf", "fortunes-de")).to.equal("auc_datainf_de");
    expect(r.metrics.auc_ngram).to.be.within(0, 1);
    expect(r.identificationTests).to.have.length(heldOutCount(tiny));
  });
});
