import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { sha256Hex } from "../../../lib/files.js";
import {
  BpeTokenizer,
  englishFortuneDocuments,
  FORTUNES_DE,
  FORTUNES_ES,
  IntelligenceError,
  loadCheckpoint,
  loadFortuneSet,
  loadFortunes,
  pretokenize,
  pretrainBase,
  recipeTokenizer,
  TOKENIZER_FILE,
  trainBpe,
} from "../../../lib/intelligence/index.js";
import { initTf } from "../../../lib/tf/index.js";
import { expectCode } from "../expect-code.js";

const utf8 = (s: string) => Buffer.from(s, "utf8");

describe("byte-level BPE tokenizer", () => {
  it("learns merges by count, ties to the smaller left then right symbol id, and stops when no pair occurs twice", () => {
    // "aaab", " aab", " ab": (a,a) occurs 3 times, then (a,b) twice; what is left occurs once
    expect(trainBpe(["aaab aab ab"], { vocabSize: 300 }).merges).to.deep.equal([
      ["a", "a"],
      ["a", "b"],
    ]);
    // "xyuv", " xyuv": xy, yu and uv tie at 2: u (117) is the smallest left id; then xy before (y, uv)
    const t = trainBpe(["xyuv xyuv"], { vocabSize: 300 });
    expect(t.merges).to.deep.equal([
      ["u", "v"],
      ["x", "y"],
      ["xy", "uv"],
    ]);
    expect(t.vocab.slice(256)).to.deep.equal(["uv", "xy", "xyuv"]);
    expect(Array.from(t.encode("xyuv xyuv"), (id) => t.vocab[id])).to.deep.equal(["xyuv", "Ġ", "xyuv"]);
    // the vocabulary size caps the merges
    expect(trainBpe(["xyuv xyuv"], { vocabSize: 257 }).merges).to.have.length(1);
    expectCode(() => trainBpe(["x"], { vocabSize: 100 }), IntelligenceError, "tokenizer/bad-vocab-size", { vocabSize: 100 });
  });

  it("pre-tokenizes as GPT-2 does, every character in exactly one piece", () => {
    expect(pretokenize("Hello, world!  It's 42.\n")).to.deep.equal(["Hello", ",", " world", "!", " ", " It", "'s", " 42", ".", "\n"]);
    const text = loadFortuneSet(FORTUNES_DE).documents.slice(0, 200).join("\n\n");
    expect(pretokenize(text).join("")).to.equal(text);
  });

  describe("the fortunes-bpe-gpt tokenizer (2048 tokens, learned from the English fortune collection)", function () {
    this.timeout(120_000);
    let tok: BpeTokenizer;
    before(() => {
      tok = recipeTokenizer("fortunes-bpe-gpt") as BpeTokenizer;
    });

    it("round-trips the whole corpus byte for byte: English, German and Spanish, non-ASCII text included", () => {
      expect(tok.vocabSize).to.equal(2048);
      const texts = {
        english: `${englishFortuneDocuments().join("\n\n")}\n`,
        literature: loadFortunes().text,
        german: loadFortuneSet(FORTUNES_DE).text,
        spanish: loadFortuneSet(FORTUNES_ES).text,
        edges: "\uFEFFa BOM first; emoji 🦀, CJK 漢字, a tab\tand CRLF\r\n, NUL \u0000 and DEL \u007f",
      };
      expect(texts.german).to.match(/[äöüß]/);
      expect(texts.spanish).to.match(/[ñáéí]/);
      for (const [name, text] of Object.entries(texts)) {
        const ids = tok.encode(text);
        expect(Buffer.from(tok.decodeBytes(ids)).equals(utf8(text)), name).to.equal(true);
        expect(tok.decode(ids), name).to.equal(text);
        if (name === "english") expect(ids.length).to.be.lessThan(utf8(text).length / 2.5); // words, not bytes
      }
    });

    it("encodes deterministically: the same ids twice, and from its saved tokenizer.json", () => {
      const text = loadFortunes().documents.slice(0, 50).join("\n\n");
      const ids = tok.encode(text);
      expect(Array.from(tok.encode(text))).to.deep.equal(Array.from(ids));
      const reread = BpeTokenizer.fromJSON(JSON.parse(tok.serialize()));
      expect(reread.serialize()).to.equal(tok.serialize());
      expect(Array.from(reread.encode(text))).to.deep.equal(Array.from(ids));
      expect(Array.from(tok.encode(" the"), (id) => tok.vocab[id])).to.deep.equal(["Ġthe"]);
    });

    it("trains deterministically: the same corpus and size give the same tokenizer.json; another corpus, other merges", () => {
      const docs = englishFortuneDocuments();
      const again = trainBpe(docs, { vocabSize: 2048 });
      expect(sha256Hex(again.serialize())).to.equal(sha256Hex(tok.serialize()));
      const other = trainBpe(docs.slice(0, docs.length / 2), { vocabSize: 2048 });
      expect(sha256Hex(other.serialize())).to.not.equal(sha256Hex(tok.serialize()));
    });
  });

  it("is saved beside the base model's weights, recorded by kind, size and sha256, and refused when altered or missing", async function () {
    this.timeout(300_000);
    const { tf } = await initTf({ quiet: true });
    const dir = join(mkdtempSync(join(tmpdir(), "bpe-base-")), "base");
    const saved = await pretrainBase(tf, "fortunes-bpe-gpt", { mode: "quick", seed: 5, steps: 2, dir });
    const record = saved.recipe?.tokenizer;
    const bytes = readFileSync(join(dir, TOKENIZER_FILE));
    expect(record).to.deep.equal({ kind: "byte-level-bpe", vocab_size: 2048, file: TOKENIZER_FILE, sha256: sha256Hex(bytes) });
    expect(saved.tokenizer?.serialize()).to.equal(bytes.toString("utf8"));
    expect((saved.config as { vocabSize: number }).vocabSize).to.equal(2048);
    for (const t of Object.values(saved.weights)) t.dispose();
    // the file as Hugging Face tokenizers writes it
    const json = JSON.parse(bytes.toString("utf8"));
    expect(json.model.type).to.equal("BPE");
    expect(json.pre_tokenizer.type).to.equal("ByteLevel");
    expect(json.model.merges[0])
      .to.be.a("string")
      .and.match(/^\S+ \S+$/);
    // one byte changed: refused, naming both hashes
    const altered = Buffer.from(bytes);
    altered[altered.indexOf("Ġthe")] ^= 1;
    writeFileSync(join(dir, TOKENIZER_FILE), altered);
    expectCode(() => loadCheckpoint(tf, dir), IntelligenceError, "tokenizer/hash-mismatch", { expected: record?.sha256, actual: sha256Hex(altered) });
    rmSync(join(dir, TOKENIZER_FILE));
    expectCode(() => loadCheckpoint(tf, dir), IntelligenceError, "tokenizer/missing", { path: join(dir, TOKENIZER_FILE) });
  });

  it("refuses a tokenizer.json whose merges name tokens the vocabulary lacks", () => {
    const json = trainBpe(["xyuv xyuv"], { vocabSize: 300 }).toJSON() as { model: { merges: string[] } };
    json.model.merges.push("xyuv q");
    expectCode(() => BpeTokenizer.fromJSON(json), IntelligenceError, "tokenizer/malformed");
  });
});
