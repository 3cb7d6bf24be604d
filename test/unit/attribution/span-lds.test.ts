import { expect } from "chai";
import { AttributionError } from "../../../lib/attribution/errors.js";
import { attributeSideBySide, bootstrapMeanInterval, ldsSideBySide, quantile, sampleSubsets } from "../../../lib/attribution/evaluation/index.js";
import { buildLmDatanets } from "../../../lib/attribution/experiments/index.js";
import { lmBatch } from "../../../lib/attribution/factory-model.js";
import { DataInf, GradDot, InfiniGram, type Scores, SpanMatch, sequenceOf, spanCorpus, TRAK, TracInCP } from "../../../lib/attribution/methods/index.js";
import { makeCheckpoint } from "../../../lib/attribution/retrain.js";
import { bruteForceInfiniGram, bruteForceNextTokenCounts, buildIndex, infiniGramAt, nextTokenCounts } from "../../../lib/attribution/suffix-array.js";
import { documentsOf, fortunesTokenizer, loadFortunes } from "../../../lib/intelligence/index.js";
import { rng } from "../../../lib/random.js";
import { expectCode, expectCodeAsync } from "../expect-code.js";
import { tinyLmParams as tiny, tinyLmWindows } from "./fixtures.js";

const sorted = (m: Map<number, number>) => [...m.entries()].sort((a, b) => a[0] - b[0]);

describe("attribution: span scorers and gradient methods on one LDS harness", function () {
  this.timeout(300_000);

  it("∞-gram contexts, counts and next-token counts from the suffix array equal a brute-force count over real fortunes text", () => {
    const tok = fortunesTokenizer();
    const literature = documentsOf(loadFortunes(), "literature");
    const docs = literature.slice(0, 40).map((d) => tok.encode(d));
    const idx = buildIndex(docs);
    // one query from the corpus (long contexts found), one held out (contexts back off)
    const queries = [docs[7].slice(0, 60), tok.encode(literature[41].slice(0, 60))];
    let longest = 0;
    for (const query of queries)
      for (let next = 0; next < query.length; next++) {
        const fast = infiniGramAt(idx, query, next);
        expect(fast, `position ${next}`).to.deep.equal(bruteForceInfiniGram(docs, query, next));
        expect(sorted(nextTokenCounts(idx, query, fast.contextStart, next))).to.deep.equal(sorted(bruteForceNextTokenCounts(docs, query, fast.contextStart, next)));
        longest = Math.max(longest, fast.contextLength);
      }
    // the corpus query reaches its full context: the check covered long suffixes, not only short ones
    expect(longest).to.equal(59);
    expectCode(() => infiniGramAt(idx, queries[0], 60), AttributionError, "suffix-array/bad-position", { next: 60, length: 60 });
  });

  it("a test point's ∞-gram scores sum to its continuation's ∞-gram likelihood, counted by brute force over the windows", async () => {
    const tok = fortunesTokenizer();
    const T = 48;
    const dn = buildLmDatanets(tiny, T, (s) => tok.encode(s));
    const train = lmBatch(dn.data.x, dn.data.y, dn.data.n, T);
    const corpus = spanCorpus(train);
    const windows = Array.from({ length: train.n }, (_, i) => sequenceOf(train, i));
    const held = dn.heldOut[1][0];
    const ids = tok.encode(held.document.slice(0, T + 1));
    const test = lmBatch(ids.slice(0, T), ids.slice(1, T + 1), 1, T);
    const s = await new InfiniGram({ corpus }).attribute({ model: undefined as never, params: new Float64Array(0), train, test, l2: 0 });
    let expected = 0;
    for (let next = 1; next <= T; next++) {
      const q = bruteForceInfiniGram(windows, ids, next);
      expected += q.targetCount / q.followers / T;
    }
    expect(expected).to.be.above(0);
    expect(s.data.reduce((a, v) => a + v, 0)).to.be.closeTo(expected, 1e-12);
    expect(s.querySeconds).to.have.length(1);
  });

  it("the harness on a known datamodel: the true additive scores reach LDS 1, their negation −1, intervals paired and seeded", () => {
    const r = rng(5);
    const nTrain = 30,
      nTest = 8;
    const theta = Float64Array.from({ length: nTest * nTrain }, () => r.normal());
    const subsets = sampleSubsets(nTrain, 20, 0.5, 5);
    const outputs = subsets.map((sub) => Float64Array.from({ length: nTest }, (_, t) => sub.reduce((a, i) => a + theta[t * nTrain + i], 0)));
    const gt = { subsets, outputs };
    const scores = (method: string, data: Float64Array): Scores => ({ method, nTest, nTrain, data });
    const noise = Float64Array.from(theta, () => r.normal());
    const all = {
      truth: scores("truth", theta),
      negated: scores(
        "negated",
        theta.map((v) => -v),
      ),
      noise: scores("noise", noise),
    };
    const rep = ldsSideBySide(all, gt, { seed: 1 });
    expect([rep.truth.lds, rep.truth.low, rep.truth.high]).to.deep.equal([1, 1, 1]);
    expect([rep.negated.lds, rep.negated.low, rep.negated.high]).to.deep.equal([-1, -1, -1]);
    expect(rep.noise.low).to.be.below(rep.noise.high);
    expect(rep.noise.lds).to.be.within(rep.noise.low, rep.noise.high);
    // same seed, same numbers; another seed, other draws
    expect(ldsSideBySide(all, gt, { seed: 1 })).to.deep.equal(rep);
    expect(ldsSideBySide(all, gt, { seed: 2 }).noise.low).to.not.equal(rep.noise.low);
    // the interval helpers by hand: quantiles interpolate, a constant has a point interval
    expect(quantile([4, 1, 3, 2], 0.5)).to.equal(2.5);
    expect(bootstrapMeanInterval([2, 2, 2], [Int32Array.of(0, 1, 2), Int32Array.of(2, 2, 0)])).to.deep.equal({ low: 2, high: 2 });
    const short: Scores = { method: "short", nTest: 4, nTrain, data: theta.subarray(0, 4 * nTrain) };
    expectCode(() => ldsSideBySide({ short }, gt, { seed: 1 }), AttributionError, "lds/shape-mismatch", {
      method: "short",
      nTest: 4,
      groundTruthTests: nTest,
    });
  });

  it("a training window duplicated into the test set ranks first for every method, gradient and span alike", async () => {
    const { T, dn, fm, params, train } = await tinyLmWindows();
    // one window of each datanet, copied whole into the test set (the same ids, weights and value)
    const picks = [0, 1, 2].map((d) => dn.datanetOf.lastIndexOf(d));
    const rows = (b: { subarray(a: number, b: number): ArrayLike<number> }) => picks.flatMap((i) => Array.from(b.subarray(i * T, (i + 1) * T)));
    const test = lmBatch(rows(dn.data.x), rows(dn.data.y), picks.length, T);
    const corpus = spanCorpus(train);
    const methods = {
      datainf: new DataInf(),
      tracin_cp: new TracInCP(),
      // as many projected dimensions as windows, a small ridge: the kernel's row of a training point is near its indicator
      trak: new TRAK({ projectionDim: train.n, seed: 1, ridge: 1e-6 }),
      grad_cos: new GradDot({ cosine: true }),
      exact_match: new SpanMatch({ corpus, minLength: 6 }),
      infini_gram: new InfiniGram({ corpus }),
    };
    const task = { model: fm, params, train, test, l2: 0, seed: 1, checkpoints: [makeCheckpoint(0, 0.01, params)], ensemble: [{ params }] };
    const scores = await attributeSideBySide(methods, task);
    for (const [key, s] of Object.entries(scores)) {
      expect([s.nTest, s.nTrain], key).to.deep.equal([picks.length, train.n]);
      picks.forEach((i, t) => {
        const row = Array.from(s.data.subarray(t * s.nTrain, (t + 1) * s.nTrain));
        const best = Math.max(...row);
        expect(row.indexOf(best), `${key}, test ${t}`).to.equal(i);
        expect(
          row.filter((v) => v === best),
          `${key}, test ${t}: first alone`,
        ).to.have.length(1);
      });
    }
    // the span scorers are a function of the ids alone: the same numbers again
    const again = await attributeSideBySide({ exact_match: methods.exact_match, infini_gram: methods.infini_gram }, task);
    expect(Array.from(again.infini_gram.data)).to.deep.equal(Array.from(scores.infini_gram.data));
    expect(Array.from(again.exact_match.data)).to.deep.equal(Array.from(scores.exact_match.data));
  });

  it("span scorers refuse what they cannot read, by code", async () => {
    const tok = fortunesTokenizer();
    const T = 48;
    const dn = buildLmDatanets(tiny, T, (s) => tok.encode(s));
    const train = lmBatch(dn.data.x, dn.data.y, dn.data.n, T);
    const corpus = spanCorpus(train);
    expectCode(() => new SpanMatch({ corpus, minLength: 1 }), AttributionError, "span/bad-min-length", { minLength: 1 });
    const fewer = lmBatch(dn.data.x.subarray(0, 2 * T), dn.data.y.subarray(0, 2 * T), 2, T);
    const task = { model: undefined as never, params: new Float64Array(0), train: fewer, test: fewer, l2: 0 };
    await expectCodeAsync(new InfiniGram({ corpus }).attribute(task), AttributionError, "span/corpus-mismatch", { corpusWindows: train.n, trainWindows: 2 });
    const classifier = { x: new Float64Array(4), y: Int32Array.of(0, 1), n: 2, dim: 2 };
    expectCode(() => spanCorpus(classifier), AttributionError, "span/not-a-language-model", { role: "train", dim: 2, yDim: 1 });
  });
});
