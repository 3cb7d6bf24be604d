/**
 * Byte-level BPE, as GPT-2 tokenizes (Radford et al. 2019; byte-pair encoding after Sennrich et
 * al. 2016): text is cut into pre-tokens by GPT-2's pattern (words with their leading space,
 * numbers, punctuation runs, whitespace), each pre-token's UTF-8 bytes are the 256 base symbols,
 * and learned merges join adjacent symbols in the order they were learned. Every byte is a base
 * symbol, so any text encodes (no unknown token) and decodes back byte for byte.
 *
 * Training counts each distinct pre-token once with its frequency and repeatedly merges the most
 * frequent adjacent pair. Ties go to the pair whose left, then right, symbol id is smaller (ids
 * follow the order symbols were made), so a corpus and a vocabulary size always give the same
 * merges: training draws nothing at random.
 *
 * Saved as Hugging Face tokenizers write `tokenizer.json` (a ByteLevel pre-tokenizer and decoder,
 * a BPE model whose vocab maps GPT-2's printable byte alphabet, e.g. "Ġ" for a space, to ids, and
 * whose merges are "left right" strings in rank order).
 */
import { existsSync, readFileSync } from "node:fs";
import { sha256Hex } from "../../files.js";
import { IntelligenceError } from "../errors.js";

/** GPT-2's pre-tokenization pattern: contractions, letters, numbers, other runs, each with one leading space; whitespace. */
const GPT2_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** What `kind` a model card and a checkpoint's config record for this tokenizer. */
export const BPE_KIND = "byte-level-bpe";

/** The file a tokenizer is saved as, beside the base model's weights. */
export const TOKENIZER_FILE = "tokenizer.json";

/**
 * GPT-2's bytes_to_unicode: each byte as a printable character (printable Latin-1 bytes as
 * themselves, the rest from U+0100 on), so tokens are readable strings with no spaces.
 */
function byteAlphabet(): string[] {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const out: string[] = new Array(256);
  let next = 256;
  for (let b = 0; b < 256; b++) out[b] = String.fromCharCode(printable(b) ? b : next++);
  return out;
}

const BYTE_CHARS = byteAlphabet();
const CHAR_BYTES = new Map(BYTE_CHARS.map((c, b) => [c, b]));
const utf8 = new TextEncoder();
/** Not fatal: a cut sequence of ids decodes with U+FFFD where it splits a character; `ignoreBOM` keeps a leading BOM. */
const utf8Decoder = new TextDecoder("utf-8", { ignoreBOM: true });

/** Two adjacent symbol ids as one map key (vocabularies stay below 2^20 ids). */
const pairKey = (left: number, right: number) => left * 0x100000 + right;

/** The pre-tokens of a text; their concatenation is the text (the pattern matches every character). */
export function pretokenize(text: string): string[] {
  return text.match(GPT2_PATTERN) ?? [];
}

export interface BpeTrainOptions {
  /** Vocabulary size to reach: 256 byte symbols plus the merges (training stops earlier when no pair occurs twice). */
  vocabSize: number;
}

export class BpeTokenizer {
  readonly kind = BPE_KIND;
  /** Token strings by id, in GPT-2's byte alphabet: ids 0..255 are the bytes 0..255. */
  readonly vocab: string[];
  /** The merges in rank order, as [left, right] token strings. */
  readonly merges: readonly (readonly [string, string])[];
  /** pairKey(left id, right id) → [rank, merged id]. */
  private readonly ranks = new Map<number, [number, number]>();
  private readonly bytesOf: Uint8Array[];
  private readonly cache = new Map<string, number[]>();

  constructor(vocab: string[], merges: readonly (readonly [string, string])[]) {
    this.vocab = vocab;
    this.merges = merges;
    const ids = new Map(vocab.map((t, i) => [t, i]));
    this.bytesOf = vocab.map((t) => Uint8Array.from(Array.from(t, (c) => CHAR_BYTES.get(c) ?? malformed(`token ${JSON.stringify(t)} holds a character outside the byte alphabet`))));
    BYTE_CHARS.forEach((c, b) => {
      if (ids.get(c) !== b) malformed(`byte ${b} is not token ${b} ("${c}")`);
    });
    merges.forEach(([left, right], rank) => {
      const [l, r, m] = [ids.get(left), ids.get(right), ids.get(left + right)];
      if (l === undefined || r === undefined || m === undefined) malformed(`merge ${rank} "${left} ${right}" names a token the vocabulary lacks`);
      if (!this.ranks.has(pairKey(l, r))) this.ranks.set(pairKey(l, r), [rank, m]);
    });
  }

  get vocabSize(): number {
    return this.vocab.length;
  }

  /** Token ids of a text: each pre-token's bytes, merged by rank (GPT-2's bpe()). */
  encode(text: string): Int32Array {
    const out: number[] = [];
    for (const piece of pretokenize(text)) for (const id of this.encodePiece(piece)) out.push(id);
    return Int32Array.from(out);
  }

  /** The bytes of a sequence of ids. */
  decodeBytes(ids: ArrayLike<number>): Uint8Array {
    const parts: Uint8Array[] = [];
    for (let i = 0; i < ids.length; i++) {
      const bytes = this.bytesOf[ids[i]];
      if (!bytes)
        throw new IntelligenceError({
          code: "tokenizer/unknown-id",
          message: `token id ${ids[i]} is outside the vocabulary of ${this.vocab.length}`,
          hint: "decode ids this tokenizer produced (or a model with the same vocabulary sampled)",
          fields: { id: ids[i], vocabSize: this.vocab.length },
        });
      parts.push(bytes);
    }
    return new Uint8Array(Buffer.concat(parts));
  }

  decode(ids: ArrayLike<number>): string {
    return utf8Decoder.decode(this.decodeBytes(ids));
  }

  /** The Hugging Face tokenizers layout (tokenizer.json) of this tokenizer. */
  toJSON(): Record<string, unknown> {
    const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true };
    return {
      version: "1.0",
      truncation: null,
      padding: null,
      added_tokens: [],
      normalizer: null,
      pre_tokenizer: byteLevel,
      post_processor: null,
      decoder: byteLevel,
      model: {
        type: "BPE",
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: false,
        byte_fallback: false,
        vocab: Object.fromEntries(this.vocab.map((t, i) => [t, i])),
        merges: this.merges.map(([l, r]) => `${l} ${r}`),
      },
    };
  }

  /** The bytes of tokenizer.json (what a checkpoint's recorded sha256 is of). */
  serialize(): string {
    return `${JSON.stringify(this.toJSON())}\n`;
  }

  static fromJSON(json: unknown): BpeTokenizer {
    const model = (json as { model?: { type?: string; vocab?: Record<string, number>; merges?: unknown[] } })?.model;
    if (model?.type !== "BPE" || !model.vocab || !Array.isArray(model.merges)) malformed("no BPE model with vocab and merges");
    const vocab: string[] = [];
    for (const [token, id] of Object.entries(model.vocab)) {
      if (!Number.isInteger(id) || id < 0 || vocab[id] !== undefined) malformed(`token ${JSON.stringify(token)} has id ${id}, not a fresh integer`);
      vocab[id] = token;
    }
    if (vocab.length !== Object.keys(model.vocab).length) malformed("the vocabulary's ids are not 0..n-1");
    const merges = model.merges.map((m) => {
      const pair = typeof m === "string" ? m.split(" ") : m;
      if (!Array.isArray(pair) || pair.length !== 2) malformed(`merge ${JSON.stringify(m)} is not two tokens`);
      return [String(pair[0]), String(pair[1])] as const;
    });
    return new BpeTokenizer(vocab, merges);
  }

  private encodePiece(piece: string): number[] {
    const cached = this.cache.get(piece);
    if (cached) return cached;
    const symbols = Array.from(utf8.encode(piece));
    for (;;) {
      // the adjacent pair learned first, merged everywhere it occurs
      let best: [number, number] | undefined;
      let bestAt = -1;
      for (let i = 0; i + 1 < symbols.length; i++) {
        const r = this.ranks.get(pairKey(symbols[i], symbols[i + 1]));
        if (r && (!best || r[0] < best[0])) [best, bestAt] = [r, i];
      }
      if (!best) break;
      mergeInPlace(symbols, symbols[bestAt], symbols[bestAt + 1], best[1]);
    }
    if (this.cache.size < 100_000) this.cache.set(piece, symbols);
    return symbols;
  }
}

/** Replaces each left-to-right occurrence of (left, right) in `symbols` by `merged`. */
function mergeInPlace(symbols: number[], left: number, right: number, merged: number): void {
  let w = 0;
  for (let i = 0; i < symbols.length; i++) {
    if (i + 1 < symbols.length && symbols[i] === left && symbols[i + 1] === right) {
      symbols[w++] = merged;
      i++;
    } else symbols[w++] = symbols[i];
  }
  symbols.length = w;
}

function malformed(what: string): never {
  throw new IntelligenceError({
    code: "tokenizer/malformed",
    message: `tokenizer.json is not a byte-level BPE tokenizer this lab reads: ${what}`,
    hint: "save the tokenizer with BpeTokenizer.serialize(), or retrain it from its corpus",
    fields: { problem: what },
  });
}

/**
 * Learns byte-level BPE merges from texts (deterministic; see the file comment): distinct
 * pre-tokens with their counts, pair counts kept up to date merge by merge, and for each pair the
 * pre-tokens that hold it.
 */
export function trainBpe(texts: readonly string[], opts: BpeTrainOptions): BpeTokenizer {
  if (!Number.isInteger(opts.vocabSize) || opts.vocabSize < 256 || opts.vocabSize >= 0x100000)
    throw new IntelligenceError({
      code: "tokenizer/bad-vocab-size",
      message: `vocabulary size ${opts.vocabSize} is not an integer from 256 (the bytes) to 2^20`,
      hint: "ask for 256 plus the number of merges to learn, e.g. 2048",
      fields: { vocabSize: opts.vocabSize },
    });
  // stage 1: distinct pre-tokens as byte sequences, with their counts
  const counts = new Map<string, number>();
  for (const text of texts) for (const piece of pretokenize(text)) counts.set(piece, (counts.get(piece) ?? 0) + 1);
  const words = [...counts.keys()].map((piece) => Array.from(utf8.encode(piece)));
  const freq = [...counts.values()];
  // stage 2: pair counts and, per pair, the words holding it (entries may go stale; a merge re-checks)
  const pairCount = new Map<number, number>();
  const holders = new Map<number, Set<number>>();
  const addPairs = (w: number, sign: 1 | -1) => {
    const s = words[w];
    for (let i = 0; i + 1 < s.length; i++) {
      const k = pairKey(s[i], s[i + 1]);
      const c = (pairCount.get(k) ?? 0) + sign * freq[w];
      if (c === 0) pairCount.delete(k);
      else pairCount.set(k, c);
      if (sign > 0) {
        const h = holders.get(k);
        if (h) h.add(w);
        else holders.set(k, new Set([w]));
      }
    }
  };
  for (let w = 0; w < words.length; w++) addPairs(w, 1);
  // stage 3: merge the most frequent pair (ties: smaller left id, then right id) until the vocabulary is full
  const vocab = [...BYTE_CHARS];
  const ids = new Map(vocab.map((t, i) => [t, i]));
  const merges: [string, string][] = [];
  while (vocab.length < opts.vocabSize) {
    let bestKey = -1,
      bestCount = 1;
    for (const [k, c] of pairCount) if (c > bestCount || (c === bestCount && bestKey >= 0 && k < bestKey)) [bestKey, bestCount] = [k, c];
    if (bestKey < 0) break; // no pair occurs twice
    const left = Math.floor(bestKey / 0x100000),
      right = bestKey % 0x100000;
    const token = vocab[left] + vocab[right];
    let merged = ids.get(token);
    if (merged === undefined) {
      merged = vocab.length;
      vocab.push(token);
      ids.set(token, merged);
    }
    merges.push([vocab[left], vocab[right]]);
    for (const w of [...(holders.get(bestKey) ?? [])]) {
      addPairs(w, -1);
      mergeInPlace(words[w], left, right, merged);
      addPairs(w, 1);
    }
    holders.delete(bestKey);
    pairCount.delete(bestKey);
  }
  return new BpeTokenizer(vocab, merges);
}

/** What a checkpoint's config and a model card record of a tokenizer. */
export interface TokenizerRecord {
  kind: string;
  vocab_size: number;
  file: string;
  sha256: string;
}

export function tokenizerRecord(t: BpeTokenizer): TokenizerRecord {
  return { kind: t.kind, vocab_size: t.vocabSize, file: TOKENIZER_FILE, sha256: sha256Hex(t.serialize()) };
}

/** Reads a saved tokenizer.json, refusing a missing file or one whose sha256 is not the recorded one. */
export function loadBpeTokenizer(path: string, expectedSha256: string): BpeTokenizer {
  if (!existsSync(path))
    throw new IntelligenceError({
      code: "tokenizer/missing",
      message: `no tokenizer at ${path}`,
      hint: "pretrain the base model again (it saves its tokenizer beside its weights)",
      fields: { path },
    });
  const bytes = readFileSync(path);
  const actual = sha256Hex(bytes);
  if (actual !== expectedSha256)
    throw new IntelligenceError({
      code: "tokenizer/hash-mismatch",
      message: `tokenizer ${path} has sha256 ${actual}, expected ${expectedSha256} (the checkpoint's config.json)`,
      hint: "the file was altered or belongs to another checkpoint: pretrain the base model again, or restore the file",
      fields: { path, actual, expected: expectedSha256 },
    });
  return BpeTokenizer.fromJSON(JSON.parse(bytes.toString("utf8")));
}
