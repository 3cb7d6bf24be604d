import { DatasetError } from "../errors.js";
import { type DatasetSource, FORTUNES_MIN, readVerified } from "./dataset-files.js";

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
 * The fortune files in fortunes-min: English quotations, riddles and literature quips (ASCII,
 * read as latin1 as the character model's vocabulary was first built).
 */
export function loadFortunes(opts: { dir?: string } = {}): TextCorpus {
  return fortuneCorpus(FORTUNES_MIN, (key) => readVerified(FORTUNES_MIN, key, opts.dir).toString("latin1"));
}

/**
 * The fortune files of a larger set (FORTUNES: the full English collection; FORTUNES_DE,
 * FORTUNES_ES), each checked against its recorded sha256 and decoded as UTF-8.
 */
export function loadFortuneSet(source: DatasetSource, opts: { dir?: string } = {}): TextCorpus {
  const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  return fortuneCorpus(source, (key) => utf8.decode(readVerified(source, key, opts.dir)));
}

/** Every file of a data set read by `read`, cut into its quotations, in file order. */
function fortuneCorpus(source: DatasetSource, read: (key: string) => string): TextCorpus {
  const documents: string[] = [];
  const sources: string[] = [];
  for (const key of Object.keys(source.files)) {
    for (const doc of fortuneDocuments(read(key))) {
      documents.push(doc);
      sources.push(key);
    }
  }
  return { name: source.name, text: `${documents.join("\n\n")}\n`, documents, sources };
}

/**
 * The quotations of one fortune file (separated by lines holding "%"), trimmed. Overstrike
 * sequences ("_\bX", used for underlining on terminals) are reduced to the letter, carriage
 * returns dropped and tabs written as two spaces.
 */
export function fortuneDocuments(raw: string): string[] {
  // "__\b\bUN" underlines by backspacing over characters: drop each character a backspace erases
  let clean = raw;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the backspace is what this pattern finds and removes.
  while (/[^\x08]\x08/.test(clean)) clean = clean.replace(/[^\x08]\x08/g, "");
  clean = clean.replaceAll("\b", "").replace(/\r/g, "").replace(/\t/g, "  ");
  return clean
    .split(/\n%\n/)
    .map((doc) => doc.replace(/^%\n/, "").trim())
    .filter((doc) => doc.length > 0);
}

/** The documents of one source file of a corpus ("literature"), in corpus order. */
export function documentsOf(corpus: TextCorpus, source: string): string[] {
  return corpus.documents.filter((_, i) => corpus.sources[i] === source);
}

/** Character-level vocabulary: sorted characters of the corpus; ids are positions. */
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
