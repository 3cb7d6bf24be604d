import { DatasetError } from "../errors.js";
import { FORTUNES_MIN, readVerified } from "./dataset-files.js";

export interface TextCorpus {
  name: string;
  /** The cleaned text: quotations separated by blank lines. */
  text: string;
  /** Individual quotations (fortune files separate them by lines holding "%"). */
  documents: string[];
  /** The file each document came from ("fortunes", "literature", "riddles"). */
  sources: string[];
}

/**
 * The fortune files in fortunes-min: English quotations, riddles and literature quips.
 * Overstrike sequences ("_\bX", used for underlining on terminals) are reduced to the letter.
 */
export function loadFortunes(opts: { dir?: string } = {}): TextCorpus {
  const documents: string[] = [];
  const sources: string[] = [];
  for (const key of Object.keys(FORTUNES_MIN.files)) {
    const raw = readVerified(FORTUNES_MIN, key, opts.dir).toString("latin1");
    // "__\b\bUN" underlines by backspacing over characters: drop each character a backspace erases
    let clean = raw;
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the backspace is what this pattern finds and removes.
    while (/[^\x08]\x08/.test(clean)) clean = clean.replace(/[^\x08]\x08/g, "");
    clean = clean.replaceAll("\b", "").replace(/\r/g, "").replace(/\t/g, "  ");
    for (const doc of clean.split(/\n%\n/)) {
      const trimmed = doc.replace(/^%\n/, "").trim();
      if (trimmed.length > 0) {
        documents.push(trimmed);
        sources.push(key);
      }
    }
  }
  return { name: FORTUNES_MIN.name, text: `${documents.join("\n\n")}\n`, documents, sources };
}

/** Character-level vocabulary: sorted characters of the corpus; ids are positions. */
/** The documents of one source file of a corpus ("literature"), in corpus order. */
export function documentsOf(corpus: TextCorpus, source: string): string[] {
  return corpus.documents.filter((_, i) => corpus.sources[i] === source);
}

export interface CharTokenizer {
  vocab: string[];
  encode(s: string): Int32Array;
  decode(ids: ArrayLike<number>): string;
}

export function charTokenizer(text: string): CharTokenizer {
  const vocab = [...new Set(text)].sort();
  const index = new Map(vocab.map((c, i) => [c, i]));
  return {
    vocab,
    encode(s) {
      const out = new Int32Array(s.length);
      for (let i = 0; i < s.length; i++) {
        const id = index.get(s[i]);
        if (id === undefined)
          throw new DatasetError({
            code: "dataset/unknown-character",
            message: `character ${JSON.stringify(s[i])} is not in the vocabulary`,
            hint: "encode text drawn from the same corpus as the tokenizer",
            fields: { character: s[i] },
          });
        out[i] = id;
      }
      return out;
    },
    decode(ids) {
      let s = "";
      for (let i = 0; i < ids.length; i++) s += vocab[ids[i]];
      return s;
    },
  };
}
