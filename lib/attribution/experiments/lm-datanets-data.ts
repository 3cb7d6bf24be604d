/**
 * The language-model experiment's data: text datanets (one per fortunes-min file, one per
 * sentence transformation of the DataInf paper, or one per language of Debian's fortune
 * collections), two contributors each, cut into next-token windows; held-out test texts split
 * into prompt and continuation; test points as one batch.
 */
import type { DatasetSource } from "../../intelligence/datasets/dataset-source.js";
import { FORTUNES, FORTUNES_DE, FORTUNES_ES } from "../../intelligence/datasets/fortune-sets.js";
import { documentsOf, loadFortuneSet, loadFortunes } from "../../intelligence/datasets/text-corpus.js";
import type { TrainData } from "../../intelligence/train.js";
import { rng as makeRng } from "../../random.js";
import { AttributionError } from "../errors.js";
import { continuationExample, lmBatch } from "../factory-model.js";
import { SENTENCE_TRANSFORMATIONS, type SentencePool, shortSentences, TRANSFORMATION_SEPARATOR, type TransformationPrompt, transformationDocument } from "../lm-transformations.js";
import type { Batch } from "../model.js";

export const LM_DATANET_SOURCES = ["fortunes", "literature", "riddles"] as const;

/** The datanet sets the experiment can build. */
export const LM_DATANET_SETS = ["fortunes-files", "sentence-transformations", "languages"] as const;
export type LmDatanetSet = (typeof LM_DATANET_SETS)[number];

/** A datanet's name without the corpus prefix ("fortunes-literature" → "literature"): contributors and per-datanet metrics are named by it. */
export function shortDatanetName(name: string): string {
  return name.replace(/^fortunes-/, "");
}

/** The training documents and windows of the text datanets. */
export interface LmDatanets {
  datanets: string[];
  contributors: string[];
  /** Every training document, with its datanet and contributor. */
  documents: { text: string; datanet: number; contributor: number }[];
  /** Held-out test texts per datanet, split into prompt and true continuation (never in a training window). */
  heldOut: TestText[][];
  /** n windows of T ids (x) and next ids (y). */
  data: TrainData;
  datanetOf: Int32Array;
  contributorOf: Int32Array;
  /** Training document (index into `documents`) holding the middle of each window. */
  documentOf: Int32Array;
  /**
   * n × T position weights of the windows' targets: 1 on a target token inside a document's
   * transformed half (after " = " up to its end), 0 elsewhere; sentence-transformations only.
   */
  transformedTargets?: Float64Array;
}

interface TestText {
  /** The whole held-out document the test text starts. */
  document: string;
  prompt: string;
  continuation: string;
}

/** One datanet before it is cut into windows: its training documents and held-out test texts. */
interface DatanetText {
  name: string;
  train: string[];
  heldOut: TestText[];
}

/** The params that decide the datanets' texts (a subset of the lm-datanets experiment's). */
export interface DatanetTextParams {
  seed: number;
  /**
   * Which datanets: "fortunes-files" (one per file of fortunes-min: fortunes, literature, riddles) or
   * "sentence-transformations" (the DataInf paper's ten transformations of the same sentences) or
   * "languages" (Debian's English, German and Spanish fortune collections, one datanet each).
   */
  datanets: LmDatanetSet;
  /** Training documents per datanet (split between its two contributors), and held-out documents per datanet. */
  documentsPerDatanet: number;
  heldOutPerDatanet: number;
  promptChars: number;
  continuationChars: number;
  /** sentence-transformations: where the sentences come from (fortunes-min when absent). */
  sentences?: SentencePool;
  /** sentence-transformations: whether the prompt names the transformation ("named") or is the sentence alone ("sentence", when absent). */
  transformationPrompt?: TransformationPrompt;
}

function tooFewDocuments(source: string, available: number, p: DatanetTextParams, minHeld: number): AttributionError {
  return new AttributionError({
    code: "lm/too-few-documents",
    message: `${source} has ${available} documents, fewer than ${p.documentsPerDatanet} training and ${p.heldOutPerDatanet} held-out ones of ≥ ${minHeld} characters`,
    hint: "ask for fewer documents per datanet",
    fields: { source, available },
  });
}

/**
 * A datanet of natural documents: from the seeded shuffle of `documents`, the first
 * heldOutPerDatanet long enough for a prompt and a continuation are held out (a test text is each
 * one's start), the next documentsPerDatanet train.
 */
function documentDatanet(name: string, source: string, documents: string[], p: DatanetTextParams): DatanetText {
  const minHeld = p.promptChars + p.continuationChars;
  const pool = makeRng(p.seed).fork(`lm-datanet:${source}`).shuffle(documents);
  const held = pool.filter((doc) => doc.length >= minHeld).slice(0, p.heldOutPerDatanet);
  const train = pool.filter((doc) => !held.includes(doc)).slice(0, p.documentsPerDatanet);
  if (held.length < p.heldOutPerDatanet || train.length < p.documentsPerDatanet) throw tooFewDocuments(source, pool.length, p, minHeld);
  return {
    name,
    train,
    heldOut: held.map((doc) => ({ document: doc, prompt: doc.slice(0, p.promptChars), continuation: doc.slice(p.promptChars, p.promptChars + p.continuationChars) })),
  };
}

/** fortunes-files: one datanet per file of fortunes-min, seeded documents; a test text is a held-out document's start. */
function fileDatanets(p: DatanetTextParams): DatanetText[] {
  const corpus = loadFortunes();
  return LM_DATANET_SOURCES.map((source) => documentDatanet(`fortunes-${source}`, source, documentsOf(corpus, source), p));
}

/** The languages datanets: Debian's English, German and Spanish fortune collections, by datanet name. */
export const LM_LANGUAGE_COLLECTIONS: readonly { name: string; source: DatasetSource }[] = [
  { name: "fortunes-en", source: FORTUNES },
  { name: "fortunes-de", source: FORTUNES_DE },
  { name: "fortunes-es", source: FORTUNES_ES },
];

/** The longest quotation a languages datanet takes: a few blocks of the BPE model, so no long text fills a datanet's windows alone. */
export const LANGUAGE_DOCUMENT_MAX_CHARS = 400;

/**
 * languages: one datanet per language collection (English, German, Spanish), seeded quotations of
 * at most LANGUAGE_DOCUMENT_MAX_CHARS characters, ASCII-art files left out (a picture has no
 * language); a test text is a held-out quotation's start. The datanets differ in language alone,
 * which a model learns as it learns the text: natural, separable datanets.
 */
function languageDatanets(p: DatanetTextParams): DatanetText[] {
  return LM_LANGUAGE_COLLECTIONS.map(({ name, source }) => {
    const corpus = loadFortuneSet(source);
    const documents = corpus.documents.filter((doc, i) => !corpus.sources[i].includes("ascii") && doc.length <= LANGUAGE_DOCUMENT_MAX_CHARS);
    return documentDatanet(name, source.name, documents, p);
  });
}

/**
 * sentence-transformations: one datanet per transformation of the DataInf paper, each applied to the
 * same seeded short sentences (held-out sentences the same for every datanet); a test text is a
 * held-out sentence with the separator (after the transformation's title, with
 * transformationPrompt "named") as prompt and its transformation as continuation.
 */
function transformationDatanets(p: DatanetTextParams): DatanetText[] {
  const sentences = makeRng(p.seed)
    .fork("lm-datanet:sentences")
    .shuffle(shortSentences(10, p.promptChars - TRANSFORMATION_SEPARATOR.length, p.sentences));
  if (sentences.length < p.heldOutPerDatanet + p.documentsPerDatanet) throw tooFewDocuments(`the short sentences of ${p.sentences ?? "fortunes-min"}`, sentences.length, p, 10);
  const held = sentences.slice(0, p.heldOutPerDatanet);
  const train = sentences.slice(p.heldOutPerDatanet, p.heldOutPerDatanet + p.documentsPerDatanet);
  const documentOf = (t: (typeof SENTENCE_TRANSFORMATIONS)[number], s: string) => transformationDocument(t, s, p.transformationPrompt);
  return SENTENCE_TRANSFORMATIONS.map((t) => ({
    name: t.name,
    train: train.map((s) => {
      const doc = documentOf(t, s);
      return doc.prompt + doc.transformed;
    }),
    heldOut: held.map((s) => {
      const doc = documentOf(t, s);
      return { document: doc.prompt + doc.transformed, prompt: doc.prompt, continuation: doc.transformed.slice(0, p.continuationChars) };
    }),
  }));
}

const DATANET_TEXTS: Record<LmDatanetSet, (p: DatanetTextParams) => DatanetText[]> = {
  "fortunes-files": fileDatanets,
  "sentence-transformations": transformationDatanets,
  languages: languageDatanets,
};

/** How many datanets each set builds. */
const DATANET_COUNTS: Record<LmDatanetSet, number> = {
  "fortunes-files": LM_DATANET_SOURCES.length,
  "sentence-transformations": SENTENCE_TRANSFORMATIONS.length,
  languages: LM_LANGUAGE_COLLECTIONS.length,
};

/** The held-out test texts buildLmDatanets makes, known before it runs: heldOutPerDatanet of each datanet (it refuses fewer); 0 for a set it refuses. */
export function heldOutCount(p: Pick<DatanetTextParams, "datanets" | "heldOutPerDatanet">): number {
  return (DATANET_COUNTS[p.datanets] ?? 0) * p.heldOutPerDatanet;
}

function datanetTexts(p: DatanetTextParams): DatanetText[] {
  const build = DATANET_TEXTS[p.datanets];
  if (!build) {
    throw new AttributionError({
      code: "lm/unknown-datanets",
      message: `datanets "${p.datanets}" names no datanet set`,
      hint: `write datanets: ${Object.keys(DATANET_TEXTS).join(" or ")}`,
      fields: { datanets: String(p.datanets), known: Object.keys(DATANET_TEXTS) },
    });
  }
  return build(p);
}

/**
 * A continuation is scored inside one block of T tokens, and a generated one samples
 * `continuationChars` tokens: more than T cannot work, so the params are refused before anything
 * trains.
 */
export function checkContinuationFits(p: Pick<DatanetTextParams, "continuationChars">, T: number): void {
  if (p.continuationChars > T) {
    throw new AttributionError({
      code: "lm/continuation-exceeds-block",
      message: `continuationChars ${p.continuationChars} exceeds the base model's block of ${T} tokens, which must hold a continuation`,
      hint: `set continuationChars to at most ${T}`,
      fields: { continuationChars: p.continuationChars, blockSize: T },
    });
  }
}

/**
 * A held-out continuation cut to fit T tokens: its characters are at most T, but a byte-level
 * tokenizer can spend two tokens on a character outside ASCII (ä, ñ), so whole characters are
 * dropped from its end until its encoding fits; the text stays exactly what its ids decode to.
 */
export function fitContinuation(continuation: string, T: number, encode: (s: string) => Int32Array): string {
  const chars = Array.from(continuation);
  while (chars.length > 1 && encode(chars.join("")).length > T) chars.pop();
  return chars.join("");
}

/** What a training point is: a window cut from a contributor's joined documents, or one whole document. */
export const TRAINING_POINTS = ["windows", "documents"] as const;
export type TrainingPoints = (typeof TRAINING_POINTS)[number];

/** The params that decide how the documents become training points. */
export interface TrainingPointParams {
  stride: number;
  /** windows (when absent): T + 1 ids every `stride` tokens; documents: one row per document. */
  trainingPoints?: TrainingPoints;
}

/**
 * A document as one training point must fit one row of T + 1 ids (T inputs, T targets); a longer
 * one would have to be cut into pieces that are no longer one example, so it is refused before
 * anything trains.
 */
function checkDocumentFits(index: number, tokens: number, T: number): void {
  if (tokens > T + 1) {
    throw new AttributionError({
      code: "lm/document-exceeds-block",
      message: `training document ${index} has ${tokens} tokens; as one training point it must fit a row of the block's ${T} tokens plus one`,
      hint: `use shorter documents (promptChars, continuationChars, sentences) or leave trainingPoints unset (windows) to cut the documents into windows`,
      fields: { document: index, tokens, blockSize: T },
    });
  }
}

/**
 * One document as one training point: its ids left-aligned in a row (x its first T, y the next),
 * the rest padding (id 0) with loss-mask 0, so the training loss and the attribution gradients
 * count exactly its own targets; `transformed` marks (in its own token positions) its transformed half.
 */
export function documentRow(ids: Int32Array, T: number, transformed?: { from: number; to: number }): { x: Int32Array; y: Int32Array; mask: Float32Array; marks: Float64Array } {
  const x = new Int32Array(T),
    y = new Int32Array(T),
    mask = new Float32Array(T),
    marks = new Float64Array(T);
  x.set(ids.subarray(0, Math.min(T, ids.length)));
  y.set(ids.subarray(1, T + 1));
  // target t is id t + 1 of the document
  mask.fill(1, 0, Math.max(0, ids.length - 1));
  if (transformed) marks.fill(1, Math.max(0, transformed.from - 1), Math.max(0, transformed.to - 1));
  return { x, y, mask, marks };
}

/**
 * A transformation document's transformed half as token positions [from, to) of `before + doc`
 * (before: the text joined ahead of it, or nothing): from "=" without its space (a BPE token
 * starting the half carries the space) to the document's end.
 */
function transformedHalf(before: string, doc: string, encode: (s: string) => Int32Array): { from: number; to: number } {
  const sentenceEnd = doc.indexOf(TRANSFORMATION_SEPARATOR) + TRANSFORMATION_SEPARATOR.trimEnd().length;
  return { from: encode(before + doc.slice(0, sentenceEnd)).length, to: encode(before + doc).length };
}

/**
 * Attribution weights of training rows that are whole documents: 1/k on each of a row's k
 * counted targets (its mean loss, as it trains), 0 on padding.
 */
export function documentMeanWeights(mask: Float32Array, n: number, T: number): Float64Array {
  const w = new Float64Array(n * T);
  for (let r = 0; r < n; r++) {
    let k = 0;
    for (let t = 0; t < T; t++) k += mask[r * T + t];
    for (let t = 0; t < T; t++) if (k > 0) w[r * T + t] = mask[r * T + t] / k;
  }
  return w;
}

/**
 * The datanets' documents dealt alternately to two contributors each. Windows (the default): each
 * contributor's documents joined by blank lines are cut into windows of T + 1 ids with the given
 * stride. Documents: each document is one row (documentRow), a longer one than the block refused
 * (lm/document-exceeds-block). Held-out continuations are cut to fit T tokens (fitContinuation).
 */
export function buildLmDatanets(p: DatanetTextParams & TrainingPointParams, T: number, encode: (s: string) => Int32Array): LmDatanets {
  checkContinuationFits(p, T);
  const texts = datanetTexts(p);
  const documents: LmDatanets["documents"] = [];
  const contributors: string[] = [];
  const transformations = p.datanets === "sentence-transformations";
  const xs: Int32Array[] = [],
    ys: Int32Array[] = [],
    marks: Float64Array[] = [],
    masks: Float32Array[] = [],
    dn: number[] = [],
    co: number[] = [],
    docOf: number[] = [];
  texts.forEach(({ name, train }, d) => {
    for (const k of [0, 1]) {
      const c = contributors.length;
      contributors.push(`${shortDatanetName(name)}-${k === 0 ? "a" : "b"}`);
      const mine = train.filter((_, i) => i % 2 === k);
      const first = documents.length;
      for (const doc of mine) documents.push({ text: doc, datanet: d, contributor: c });
      if (p.trainingPoints === "documents") {
        mine.forEach((doc, j) => {
          const ids = encode(doc);
          checkDocumentFits(first + j, ids.length, T);
          const row = documentRow(ids, T, transformations ? transformedHalf("", doc, encode) : undefined);
          xs.push(row.x);
          ys.push(row.y);
          masks.push(row.mask);
          marks.push(row.marks);
          dn.push(d);
          co.push(c);
          docOf.push(first + j);
        });
        continue;
      }
      // each document's start and its transformed half, in token positions as the windows are cut
      // (a BPE token spans several characters)
      const starts: number[] = [];
      const halves: { from: number; to: number }[] = [];
      let text = "";
      for (const doc of mine) {
        starts.push(encode(text).length);
        if (transformations) halves.push(transformedHalf(text, doc, encode));
        text += `${doc}\n\n`;
      }
      const ids = encode(text);
      const transformed = new Float64Array(ids.length);
      for (const h of halves) transformed.fill(1, h.from, h.to);
      for (let s = 0; s + T + 1 <= ids.length; s += p.stride) {
        xs.push(ids.slice(s, s + T));
        ys.push(ids.slice(s + 1, s + T + 1));
        marks.push(transformed.slice(s + 1, s + T + 1));
        dn.push(d);
        co.push(c);
        const middle = s + T / 2;
        let j = 0;
        while (j + 1 < starts.length && starts[j + 1] <= middle) j++;
        docOf.push(first + j);
      }
    }
  });
  const n = xs.length;
  const x = new Int32Array(n * T),
    y = new Int32Array(n * T),
    transformedTargets = new Float64Array(n * T);
  xs.forEach((w, i) => {
    x.set(w, i * T);
    y.set(ys[i], i * T);
    transformedTargets.set(marks[i], i * T);
  });
  const lossMask = p.trainingPoints === "documents" ? new Float32Array(n * T) : undefined;
  if (lossMask) masks.forEach((m, i) => void lossMask.set(m, i * T));
  return {
    datanets: texts.map((t) => t.name),
    contributors,
    documents,
    heldOut: texts.map((t) => t.heldOut.map((h) => ({ ...h, continuation: fitContinuation(h.continuation, T, encode) }))),
    data: { x, y, n, xShape: [T], yShape: [T], ...(lossMask ? { lossMask } : {}) },
    datanetOf: Int32Array.from(dn),
    contributorOf: Int32Array.from(co),
    documentOf: Int32Array.from(docOf),
    ...(transformations ? { transformedTargets } : {}),
  };
}

/** Which target tokens a test point's loss sums over: its continuation's, or the whole document's (prompt and continuation). */
export const TEST_LOSSES = ["continuation", "document"] as const;
export type TestLoss = (typeof TEST_LOSSES)[number];

/**
 * Prompt + continuation test points as one language-model batch; the loss over the continuation's
 * tokens, or (`document`) over every token after the first that the block holds, as the DataInf
 * paper's test gradients take the whole example's loss.
 */
export function continuationBatch(pairs: { prompt: Int32Array; continuation: Int32Array }[], T: number, loss: TestLoss = "continuation"): Batch {
  const ex = pairs.map((q) => {
    const e = continuationExample(q.prompt, q.continuation, T);
    // the window is left-padded to T + 1 ids: the first real input predicts the second token
    if (loss === "document") e.weights.fill(0).fill(1, Math.max(0, T + 1 - (q.prompt.length + q.continuation.length)));
    return e;
  });
  const x = new Int32Array(ex.length * T),
    y = new Int32Array(ex.length * T),
    w = new Float64Array(ex.length * T);
  ex.forEach((e, i) => {
    x.set(e.x, i * T);
    y.set(e.y, i * T);
    w.set(e.weights, i * T);
  });
  return lmBatch(x, y, ex.length, T, w);
}
