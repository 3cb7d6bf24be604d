import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { AttributionError } from "../../../lib/attribution/errors.js";
import { datanetIdentification, ngramTfidfScores } from "../../../lib/attribution/evaluation/index.js";
import {
  buildLmDatanets,
  checkContinuationFits,
  continuationBatch,
  documentMeanWeights,
  fitContinuation,
  heldOutCount,
  LM_SCORER_KEYS,
  LM_SPAN_KEYS,
  lmAttribution,
  lmAttributionUnits,
  lmScorerTable,
} from "../../../lib/attribution/experiments/index.js";
import { lmBatch } from "../../../lib/attribution/factory-model.js";
import { SENTENCE_TRANSFORMATIONS, TRANSFORMATION_SEPARATOR } from "../../../lib/attribution/lm-transformations.js";
import { DataInf, GradDot } from "../../../lib/attribution/methods/index.js";
import { fortunesTokenizer } from "../../../lib/intelligence/index.js";
import { expectCode, expectCodeAsync } from "../expect-code.js";
import { tinyLmParams as tiny, tinyLmWindows } from "./fixtures.js";

/**
 * With the character tokenizer (a token is a character): contributor 0's windows read its text, and
 * their target marks are 1 exactly on the characters of the documents' transformed halves (from the
 * space after "=" to the document's end).
 */
function expectTransformedHalvesMarked(dn: ReturnType<typeof buildLmDatanets>, stride: number, tok: ReturnType<typeof fortunesTokenizer>): void {
  const marks = dn.transformedTargets as Float64Array;
  expect(marks).to.have.length(dn.data.n * 48);
  const mine = dn.documents.filter((d) => d.contributor === 0);
  let text = "";
  const expected: number[] = [];
  for (const d of mine) {
    const from = d.text.indexOf(TRANSFORMATION_SEPARATOR) + TRANSFORMATION_SEPARATOR.trimEnd().length;
    for (let i = 0; i < d.text.length; i++) expected.push(i >= from ? 1 : 0);
    expected.push(0, 0);
    text += `${d.text}\n\n`;
  }
  const windows = Array.from(dn.contributorOf.keys()).filter((i) => dn.contributorOf[i] === 0);
  expect(windows.length).to.be.greaterThan(1);
  windows.forEach((w, k) => {
    const start = k * stride + 1; // targets are the next characters
    expect(tok.decode(dn.data.y.subarray(w * 48, (w + 1) * 48))).to.equal(text.slice(start, start + 48));
    expect(Array.from(marks.subarray(w * 48, (w + 1) * 48))).to.deep.equal(expected.slice(start, start + 48));
  });
  expect(marks.some((m) => m === 0)).to.equal(true);
}

describe("attribution: the language-model experiment", function () {
  this.timeout(300_000);

  it("cuts each datanet's documents into windows that remember their document, contributor and datanet", () => {
    const tok = fortunesTokenizer();
    const dn = buildLmDatanets(tiny, 48, (s) => tok.encode(s));
    expect(dn.datanets).to.deep.equal(["fortunes-fortunes", "fortunes-literature", "fortunes-riddles"]);
    expect(dn.documents).to.have.length(12);
    expect(dn.heldOut.map((h) => h.length)).to.deep.equal([2, 2, 2]);
    for (const held of dn.heldOut)
      for (const t of held) {
        expect(t.document.startsWith(t.prompt + t.continuation)).to.equal(true);
        expect(dn.documents.some((d) => d.text === t.document)).to.equal(false);
      }
    for (let i = 0; i < dn.data.n; i++) {
      const doc = dn.documents[dn.documentOf[i]];
      expect(doc.datanet).to.equal(dn.datanetOf[i]);
      expect(doc.contributor).to.equal(dn.contributorOf[i]);
      expect(dn.contributors[dn.contributorOf[i]].startsWith(["fortunes", "literature", "riddles"][dn.datanetOf[i]])).to.equal(true);
    }
  });

  it("sentence-transformations: the DataInf paper's ten transformations of the same sentences, the held-out ones in no training window", () => {
    const tok = fortunesTokenizer();
    const p = { ...tiny, datanets: "sentence-transformations" as const, promptChars: 20, continuationChars: 24 };
    const dn = buildLmDatanets(p, 48, (s) => tok.encode(s));
    expect(dn.datanets).to.deep.equal(SENTENCE_TRANSFORMATIONS.map((t) => t.name));
    expect(dn.documents).to.have.length(10 * p.documentsPerDatanet);
    const heldSentences = dn.heldOut.map((texts) => texts.map((t) => t.prompt));
    for (const prompts of heldSentences) expect(prompts).to.deep.equal(heldSentences[0]);
    const trainSentences = new Set(dn.documents.map((d) => d.text.split(TRANSFORMATION_SEPARATOR)[0]));
    expect(trainSentences.size).to.equal(p.documentsPerDatanet);
    for (const prompt of heldSentences[0]) {
      expect(prompt.endsWith(TRANSFORMATION_SEPARATOR)).to.equal(true);
      expect(trainSentences.has(prompt.slice(0, -TRANSFORMATION_SEPARATOR.length))).to.equal(false);
      expect(prompt.length).to.be.at.most(p.promptChars);
    }
    dn.heldOut.forEach((texts, d) => {
      for (const t of texts) expect(t.continuation).to.equal(SENTENCE_TRANSFORMATIONS[d].apply(t.prompt.slice(0, -TRANSFORMATION_SEPARATOR.length)).slice(0, 24));
    });
    for (const texts of dn.heldOut) for (const t of texts) expect(dn.documents.some((d) => d.text === t.document)).to.equal(false);
    for (const d of dn.documents) expect(() => tok.encode(d.text)).not.to.throw();
  });

  it("sentence-transformations mark the target tokens of the documents' transformed halves (attributedTargets), and only they have them", async () => {
    const tok = fortunesTokenizer();
    const p = { ...tiny, datanets: "sentence-transformations" as const, promptChars: 20, continuationChars: 24, documentsPerDatanet: 8 };
    const dn = buildLmDatanets(p, 48, (s) => tok.encode(s));
    expectTransformedHalvesMarked(dn, p.stride, tok);
    expect(buildLmDatanets(tiny, 48, (s) => tok.encode(s)).transformedTargets).to.equal(undefined);
    // other datanets have no transformed half: refused before the base loads
    await expectCodeAsync(lmAttribution({ ...tiny, attributedTargets: "transformed" }), AttributionError, "lm/no-transformed-targets", {
      datanets: "fortunes-files",
      attributedTargets: "transformed",
    });
  });

  it("trainingPoints documents: one row per document, left-aligned, its loss mask and attribution weights on exactly its targets; windows as before when absent", async () => {
    const tok = fortunesTokenizer();
    const enc = (s: string) => tok.encode(s);
    const p = { ...tiny, datanets: "sentence-transformations" as const, promptChars: 20, continuationChars: 24, documentsPerDatanet: 8 };
    // the default is today's windows, bit for bit, with no loss mask
    const windows = buildLmDatanets(p, 48, enc);
    expect(buildLmDatanets({ ...p, trainingPoints: "windows" }, 48, enc)).to.deep.equal(windows);
    expect(windows.data.lossMask).to.equal(undefined);
    // a block of 96 characters holds every document of the character tokenizer
    const T = 96;
    const dn = buildLmDatanets({ ...p, trainingPoints: "documents" }, T, enc);
    const mask = dn.data.lossMask as Float32Array;
    const marks = dn.transformedTargets as Float64Array;
    const weights = documentMeanWeights(mask, dn.data.n, T);
    expect(dn.data.n).to.equal(dn.documents.length);
    expect(dn.documents.map((d) => d.text)).to.deep.equal(windows.documents.map((d) => d.text));
    dn.documents.forEach((doc, i) => {
      const row = (a: ArrayLike<number>) => Array.from(a).slice(i * T, (i + 1) * T);
      const L = doc.text.length;
      expect(dn.documentOf[i]).to.equal(i);
      expect(dn.datanetOf[i]).to.equal(doc.datanet);
      expect(dn.contributorOf[i]).to.equal(doc.contributor);
      expect(tok.decode(Int32Array.from(row(dn.data.x).slice(0, L)))).to.equal(doc.text);
      expect(tok.decode(Int32Array.from(row(dn.data.y).slice(0, L - 1)))).to.equal(doc.text.slice(1));
      expect(
        row(dn.data.x)
          .slice(L)
          .every((id) => id === 0),
      ).to.equal(true);
      expect(row(mask)).to.deep.equal([...new Array(L - 1).fill(1), ...new Array(T - L + 1).fill(0)]);
      expect(row(weights)).to.deep.equal([...new Array(L - 1).fill(1 / (L - 1)), ...new Array(T - L + 1).fill(0)]);
      // target t is character t + 1: the transformed half's targets are those after "="
      const from = doc.text.indexOf(TRANSFORMATION_SEPARATOR) + TRANSFORMATION_SEPARATOR.trimEnd().length;
      expect(row(marks)).to.deep.equal(Array.from({ length: T }, (_, t) => (t + 1 >= from && t + 1 < L ? 1 : 0)));
    });
    // the padding is in no attribution gradient: the same document over other padding has the same gradient
    const { fm, params } = await tinyLmWindows();
    const padded = (pad: number) => {
      const ids = Array.from(enc("Drain the moat = moat. the Drain"));
      const x = new Array(48).fill(pad),
        y = new Array(48).fill(pad);
      x.splice(0, ids.length, ...ids);
      y.splice(0, ids.length - 1, ...ids.slice(1));
      return lmBatch(
        x.slice(0, 48),
        y.slice(0, 48),
        1,
        48,
        documentMeanWeights(
          Float32Array.from({ length: 48 }, (_, t) => (t < ids.length - 1 ? 1 : 0)),
          1,
          48,
        ),
      );
    };
    expect(await fm.gradientRows(params, padded(5), "loss")).to.deep.equal(await fm.gradientRows(params, padded(0), "loss"));
  });

  it("trainingPoints documents: a document longer than the block is refused before anything trains, and LDS and removal with it are refused", async () => {
    const tok = fortunesTokenizer();
    const enc = (s: string) => tok.encode(s);
    const p = { ...tiny, datanets: "sentence-transformations" as const, promptChars: 20, continuationChars: 24, documentsPerDatanet: 8 };
    // a block of 32 characters: the first document longer than 33 is refused, by its index and length
    const documents = buildLmDatanets(p, 32, enc).documents;
    const first = documents.findIndex((d) => d.text.length > 33);
    expect(first).to.be.at.least(1);
    expectCode(() => buildLmDatanets({ ...p, trainingPoints: "documents" }, 32, enc), AttributionError, "lm/document-exceeds-block", {
      document: first,
      tokens: documents[first].text.length,
      blockSize: 32,
    });
    await expectCodeAsync(lmAttribution({ ...tiny, trainingPoints: "documents" }), AttributionError, "lm/training-points-not-judged", {
      trainingPoints: "documents",
      ldsSubsets: tiny.ldsSubsets,
      counterfactualTests: tiny.counterfactualTests,
    });
  });

  it("transformationPrompt named: each document's prompt starts with its transformation's title, as the DataInf paper's prompt names it", async () => {
    const tok = fortunesTokenizer();
    const p = { ...tiny, datanets: "sentence-transformations" as const, promptChars: 20, continuationChars: 24 };
    const plain = buildLmDatanets(p, 48, (s) => tok.encode(s));
    expect(buildLmDatanets({ ...p, transformationPrompt: "sentence" }, 48, (s) => tok.encode(s))).to.deep.equal(plain);
    const named = buildLmDatanets({ ...p, transformationPrompt: "named" }, 48, (s) => tok.encode(s));
    // the same sentences and transformations, each document and held-out prompt behind its title
    expect(named.documents.map((d) => d.datanet)).to.deep.equal(plain.documents.map((d) => d.datanet));
    for (const [i, d] of named.documents.entries()) expect(d.text).to.equal(`${SENTENCE_TRANSFORMATIONS[d.datanet].title}: ${plain.documents[i].text}`);
    for (const [d, texts] of named.heldOut.entries()) {
      for (const [i, t] of texts.entries()) {
        const sentencePrompt = plain.heldOut[d][i].prompt;
        expect(t.prompt).to.equal(`${SENTENCE_TRANSFORMATIONS[d].title}: ${sentencePrompt}`);
        expect(t.continuation).to.equal(plain.heldOut[d][i].continuation);
        expect(t.document).to.equal(t.prompt + SENTENCE_TRANSFORMATIONS[d].apply(sentencePrompt.slice(0, -TRANSFORMATION_SEPARATOR.length)));
      }
    }
    expect(named.data.n).to.be.greaterThan(plain.data.n);
    // the transformed halves are marked as before, the titles not
    expectTransformedHalvesMarked(named, p.stride, tok);
    // other datanets have no transformation to name: refused before the base loads
    await expectCodeAsync(lmAttribution({ ...tiny, transformationPrompt: "named" }), AttributionError, "lm/no-transformation-to-name", {
      datanets: "fortunes-files",
      transformationPrompt: "named",
    });
  });

  it("testLoss document: a test point's loss over its whole document, prompt included, for identification only", async () => {
    const tok = fortunesTokenizer();
    const pairs = [
      { prompt: tok.encode("Drain the moat = "), continuation: tok.encode("moat. the Drain") },
      { prompt: tok.encode("x".repeat(40)), continuation: tok.encode("y".repeat(20)) },
    ];
    const continuation = continuationBatch(pairs, 48);
    expect(continuationBatch(pairs, 48, "continuation")).to.deep.equal(continuation);
    const document = continuationBatch(pairs, 48, "document");
    expect(document.x).to.deep.equal(continuation.x);
    expect(document.y).to.deep.equal(continuation.y);
    const weights = (b: typeof document, i: number) => Array.from((b.weights as Float64Array).subarray(i * 48, (i + 1) * 48));
    // 17 + 15 ids left-padded to 49: the first real input (position 17) predicts the second token; the continuation alone from position 33
    expect(weights(continuation, 0)).to.deep.equal([...new Array(33).fill(0), ...new Array(15).fill(1)]);
    expect(weights(document, 0)).to.deep.equal([...new Array(17).fill(0), ...new Array(31).fill(1)]);
    // 60 ids: the block holds the last 49, every target weighted
    expect(weights(document, 1)).to.deep.equal(new Array(48).fill(1));
    // LDS and counterfactual removal judge the continuations' loss: refused with them, before the base loads
    await expectCodeAsync(lmAttribution({ ...tiny, testLoss: "document" }), AttributionError, "lm/test-loss-not-judged", {
      testLoss: "document",
      ldsSubsets: tiny.ldsSubsets,
      counterfactualTests: tiny.counterfactualTests,
    });
  });

  it("the experiment attributes by the transformed halves, DataInf's unit-gradient variant and the named prompt when asked, and not otherwise", async () => {
    const p = { ...tiny, datanets: "sentence-transformations" as const, promptChars: 20, continuationChars: 24, ldsSubsets: 0, counterfactualTests: 0, generatedPerDatanet: 0 };
    const run = async (extra: Partial<typeof p>) => (await lmAttribution({ ...p, ...extra, gradientStore: mkdtempSync(join(tmpdir(), "lm-exp-")) })).metrics;
    const plain = await run({});
    const asDefault = await run({ attributedTargets: "all", datainfGradients: "raw" });
    const halves = await run({ attributedTargets: "transformed" });
    const unit = await run({ datainfGradients: "unit" });
    const named = await run({ transformationPrompt: "named" });
    const wholeDocument = await run({ testLoss: "document" });
    expect(asDefault.auc_datainf).to.equal(plain.auc_datainf);
    expect(asDefault.auc_grad_cos).to.equal(plain.auc_grad_cos);
    // the transformed halves move every gradient method; the unit variant DataInf alone
    expect(halves.auc_datainf).to.not.equal(plain.auc_datainf);
    expect(halves.auc_grad_cos).to.not.equal(plain.auc_grad_cos);
    expect(unit.auc_datainf).to.not.equal(plain.auc_datainf);
    expect(unit.auc_grad_cos).to.equal(plain.auc_grad_cos);
    // a prompt naming the transformation changes the windows and test points, so every method's scores
    expect(named.train_windows).to.be.greaterThan(plain.train_windows as number);
    expect(named.auc_datainf).to.not.equal(plain.auc_datainf);
    // the whole document's loss moves the gradient methods' scores, not the span scorers' (they read the continuation)
    expect(wholeDocument.auc_datainf).to.not.equal(plain.auc_datainf);
    expect(wholeDocument.auc_exact_match).to.equal(plain.auc_exact_match);
  });

  it("the transformations do what the DataInf paper names them", () => {
    const by = Object.fromEntries(SENTENCE_TRANSFORMATIONS.map((t) => [t.name, t.apply]));
    const s = "Drain the moat.";
    expect(by["reverse-words"](s)).to.equal("moat. the Drain");
    expect(by["alternate-case"](s)).to.equal("dRaIn tHe mOaT.");
    expect(by["insert-1"](s)).to.equal("Drain 1 the 1 moat.");
    expect(by["star-vowels"](s)).to.equal("Dr**n th* m**t.");
    expect(by["double-consonants"](s)).to.equal("DDrrainn tthhe mmoatt.");
    expect(by["capitalize-words"]("drain THE moat.")).to.equal("Drain The Moat.");
    expect(by["drop-vowels"](s)).to.equal("Drn th mt.");
    expect(by["add-ly"](s)).to.equal("Drainly thely moat.ly");
    expect(by["drop-consonants"](s)).to.equal("ai e oa.");
    expect(by["repeat-words"](s)).to.equal("Drain Drain the the moat. moat.");
  });

  it("counts the held-out test texts before building them, and the progress units of a run with no re-trainings", () => {
    const tok = fortunesTokenizer();
    for (const datanets of ["fortunes-files", "sentence-transformations"] as const) {
      const p = { ...tiny, datanets, promptChars: 20, continuationChars: 24 };
      expect(heldOutCount(p), datanets).to.equal(buildLmDatanets(p, 48, (s) => tok.encode(s)).heldOut.flat().length);
    }
    // lm-transformations: no LDS, no removal; those stages count nothing and are not reported
    expect(lmAttributionUnits({ ...tiny, trakModels: 1, ldsSubsets: 0, counterfactualTests: 0 })).to.deep.equal([1, 1, 1, 4, 1, 1, 1, 0, 0]);
    // the ensemble's re-trainings: as many as TRAK's members or DataInf's average takes, whichever is more
    expect(lmAttributionUnits({ ...tiny, trakModels: 1, datainfModels: 4, ldsSubsets: 0, counterfactualTests: 0 })[3]).to.equal(3 + 4);
    expect(lmAttributionUnits({ ...tiny, trakModels: 5, datainfModels: 2, ldsSubsets: 0, counterfactualTests: 0 })[3]).to.equal(4 + 4);
    // removals: two per continuation, at most one continuation per held-out text
    expect(lmAttributionUnits({ ...tiny, counterfactualTests: 50 }).at(-1)).to.equal(2 * 6);
  });

  it("fits a held-out continuation to the block in tokens, and refuses a continuation longer than the block before anything trains", () => {
    // a byte per token: the worst case of a byte-level tokenizer, two tokens for ä, ö, ü, ß and ñ
    const bytes = (s: string) => Int32Array.from(new TextEncoder().encode(s));
    const german = "Über Größe spricht man nicht, schön übermäßig.";
    expect(fitContinuation("plain ascii", 48, bytes)).to.equal("plain ascii");
    const fitted = fitContinuation(german, 24, bytes);
    expect(bytes(fitted).length).to.be.at.most(24);
    expect(german.startsWith(fitted)).to.equal(true);
    expect(
      bytes(
        Array.from(german)
          .slice(0, Array.from(fitted).length + 1)
          .join(""),
      ).length,
      "the longest prefix that fits",
    ).to.be.above(24);
    expectCode(() => checkContinuationFits({ continuationChars: 49 }, 48), AttributionError, "lm/continuation-exceeds-block", { continuationChars: 49, blockSize: 48 });
    expect(() => checkContinuationFits({ continuationChars: 48 }, 48)).not.to.throw();
    const tok = fortunesTokenizer();
    expectCode(() => buildLmDatanets({ ...tiny, continuationChars: 60 }, 48, (s) => tok.encode(s)), AttributionError, "lm/continuation-exceeds-block");
    // held-out texts built with a byte tokenizer and a small block: each continuation fits it
    const dn = buildLmDatanets({ ...tiny, promptChars: 8, continuationChars: 16 }, 16, bytes);
    for (const t of dn.heldOut.flat()) {
      expect(bytes(t.continuation).length).to.be.at.most(16);
      expect(t.document.startsWith(t.prompt + t.continuation)).to.equal(true);
    }
  });

  it("refuses a datanet set it does not know, naming the ones it does", () => {
    const tok = fortunesTokenizer();
    expectCode(() => buildLmDatanets({ ...tiny, datanets: "news" as never }, 48, (s) => tok.encode(s)), AttributionError, "lm/unknown-datanets", {
      datanets: "news",
      known: ["fortunes-files", "sentence-transformations", "languages"],
    });
  });

  it("identification reads test × window scores with higher = more helpful: a window's own text, as a test point, ranks that window first", async () => {
    // guards the orientation of the score matrix, the sign convention and the window labels the
    // metric compares: a transposed matrix, a flipped sign or windows out of step with their
    // datanets would all move the window itself off the top of its own row
    const { T, dn, fm, params, train } = await tinyLmWindows();
    // one window of each datanet: its first half as the prompt, the rest of its T + 1 ids as the continuation
    const picks = [0, 1, 2].map((d) => dn.datanetOf.indexOf(d));
    const test = continuationBatch(
      picks.map((i) => {
        const ids = Int32Array.from([...dn.data.x.subarray(i * T, (i + 1) * T), dn.data.y[(i + 1) * T - 1]]);
        return { prompt: ids.slice(0, T / 2), continuation: ids.slice(T / 2) };
      }),
      T,
    );
    const testDatanet = Int32Array.from(picks.map((i) => dn.datanetOf[i]));
    for (const method of [new GradDot({ cosine: true }), new DataInf()]) {
      const s = await method.attribute({ model: fm, params, train, test, l2: 0 });
      expect([s.nTest, s.nTrain], method.name).to.deep.equal([picks.length, dn.data.n]);
      picks.forEach((i, t) => {
        const rowScores = Array.from(s.data.subarray(t * s.nTrain, (t + 1) * s.nTrain));
        expect(rowScores.indexOf(Math.max(...rowScores)), `${method.name}, test ${t}`).to.equal(i);
      });
      const r = datanetIdentification(s, dn.datanetOf, testDatanet);
      expect(Number.isFinite(r.auc)).to.equal(true);
    }
  });

  it("the n-gram text baseline scores identical texts 1, shares nothing with disjoint ones, and refuses a bad order by code", () => {
    const s = ngramTfidfScores(["the cat sat", "Q:  why?", "zzzz"], ["the cat sat", "xyxy"], 3);
    expect([s.nTest, s.nTrain]).to.deep.equal([2, 3]);
    expect(s.data[0]).to.be.closeTo(1, 1e-12);
    expect(Array.from(s.data.subarray(3))).to.deep.equal([0, 0, 0]);
    expectCode(() => ngramTfidfScores(["a"], ["a"], 0), AttributionError, "attribution/ngram-order");
  });

  it("scores every window by every method, rolls up to shares, and reproduces under its seed", async () => {
    // two TRAK members: the run and one re-training, so the progress line counts an ensemble member
    const run = { ...tiny, trakModels: 2 };
    const a = await lmAttribution({ ...run, gradientStore: mkdtempSync(join(tmpdir(), "lm-exp-")) });
    // the second run reports each stage as it starts, then each of its parts as it finishes: the
    // adapter's 4 training steps (beside the count), one TRAK ensemble member and the 4 methods, two
    // LDS subsets, two removals for one continuation; then the total. Its numbers do not move.
    const reported: Array<[number, number, string | undefined]> = [];
    const b = await lmAttribution(
      { ...run, gradientStore: mkdtempSync(join(tmpdir(), "lm-exp-")) },
      () => {},
      (done, total, stage) => reported.push([done, total, stage]),
    );
    expect(lmAttributionUnits(run)).to.deep.equal([1, 1, 1, 5, 1, 1, 1, 2, 2]);
    expect(reported).to.deep.equal([
      [0, 15, "set up"],
      [1, 15, "adapter training"],
      [1, 15, "adapter training: 1 of 4 steps"],
      [1, 15, "adapter training: 2 of 4 steps"],
      [1, 15, "adapter training: 3 of 4 steps"],
      [1, 15, "adapter training: 4 of 4 steps"],
      [2, 15, "test points"],
      [3, 15, "attribution methods"],
      [4, 15, "attribution methods: 1 of 1 ensemble re-trainings"],
      [5, 15, "attribution methods: datainf scored"],
      [6, 15, "attribution methods: tracin_cp scored"],
      [7, 15, "attribution methods: trak scored"],
      [8, 15, "attribution methods: grad_cos scored"],
      [8, 15, "n-gram baseline"],
      [9, 15, "span attribution"],
      [10, 15, "generated outputs"],
      [11, 15, "LDS"],
      [12, 15, "LDS: 1 of 2 re-trainings"],
      [13, 15, "LDS: 2 of 2 re-trainings"],
      [13, 15, "counterfactual"],
      [14, 15, "counterfactual: 1 of 2 re-trainings"],
      [15, 15, "counterfactual: 2 of 2 re-trainings"],
      [15, 15, undefined],
    ]);
    for (const k of ["datainf", "tracin_cp", "trak", "grad_cos"]) {
      expect(a.identificationScores[k].nTrain).to.equal(a.metrics.train_windows);
      expect(a.metrics[`auc_${k}`]).to.be.within(0, 1);
      expect(Number.isFinite(a.metrics[`lds_${k}`])).to.equal(true);
      const shares = a.rollups[k].datanets.map((d) => d.weight);
      const total = shares.reduce((s, v) => s + v, 0);
      expect(total === 0 || Math.abs(total - 1) < 1e-9).to.equal(true);
    }
    // the span scorers sit beside them on the same identification test points and re-trainings
    for (const k of LM_SPAN_KEYS) {
      expect(a.identificationScores[k].nTrain).to.equal(a.metrics.train_windows);
      expect(a.metrics[`auc_${k}`]).to.be.within(0, 1);
      expect(a.metrics[`${k}_query_seconds_p95`]).to.be.at.least(0);
    }
    expect(a.metrics.suffix_array_tokens).to.equal(a.metrics.train_windows * (48 + 2));
    for (const k of LM_SCORER_KEYS) {
      expect(a.lds[k], k).to.equal(a.metrics[`lds_${k}`]);
      expect(a.metrics[`lds_${k}_ci95_low`], k).to.be.at.most(a.metrics[`lds_${k}_ci95_high`]);
      expect(a.ldsIntervals[k]).to.deep.equal({ low: a.metrics[`lds_${k}_ci95_low`], high: a.metrics[`lds_${k}_ci95_high`] });
    }
    // notebook 05's table: one row per scorer in that order, the suffix array's size in its caption
    const scorerTable = lmScorerTable(a.metrics, tiny.topDocuments);
    expect(scorerTable.rows.map((r) => r.method)).to.deep.equal([...LM_SCORER_KEYS]);
    expect(scorerTable.rows.map((r) => r["LDS (2 subsets)"])).to.deep.equal(LM_SCORER_KEYS.map((k) => +a.metrics[`lds_${k}`].toFixed(3)));
    expect(scorerTable.caption).to.include(`${a.metrics.suffix_array_tokens} tokens`);
    for (const g of a.generated) expect(g.continuation).to.have.length(tiny.continuationChars);
    const stable = (m: Record<string, number>) => Object.fromEntries(Object.entries(m).filter(([k]) => !k.includes("seconds") && !k.startsWith("gradient_sets")));
    expect(stable(b.metrics)).to.deep.equal(stable(a.metrics));
  });
});
