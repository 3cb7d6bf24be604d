/**
 * The sentence-transformation datanets of the DataInf paper's identification task (Kwon et al.,
 * ICLR 2024, §4.2), built from fortunes-min: each datanet is one of the paper's ten transformations
 * applied to the same short sentences, so a datanet's whole content is its transformation and a
 * test point (a held-out sentence, transformed) can be traced to its datanet only through it.
 *
 * A document is `sentence = transformed` (the character-level model has no `->`), so the class
 * shows only in the continuation; or, as the paper writes its examples, with the prompt naming the
 * transformation first, `Title: sentence = transformed` (TRANSFORMATION_PROMPTS: the paper's
 * instruction line, "NAME is a chatbot that performs a specific transformation on sentences:
 * Title", cut to its title, which the byte-level BPE base's 48-token block holds with the
 * sentence and its transformation; the character model's 48-character block does not).
 */
import { FORTUNES } from "../intelligence/datasets/fortune-sets.js";
import { loadFortuneSet, loadFortunes } from "../intelligence/datasets/text-corpus.js";

/** Between a sentence and its transformation (the prompt ends with it). */
export const TRANSFORMATION_SEPARATOR = " = ";

const VOWELS = new Set("aeiouAEIOU");
const isConsonant = (c: string) => /[A-Za-z]/.test(c) && !VOWELS.has(c);
const words = (s: string) => s.split(/\s+/).filter(Boolean);
const capitalize = (w: string) => w.charAt(0).toUpperCase() + w.slice(1).toLowerCase();

/** The paper's ten transformations, in its order, by datanet name. */
export const SENTENCE_TRANSFORMATIONS: readonly { name: string; title: string; apply: (s: string) => string }[] = [
  { name: "reverse-words", title: "Reverse Order of Words", apply: (s) => words(s).reverse().join(" ") },
  { name: "alternate-case", title: "Capitalize Every Other Letter", apply: (s) => Array.from(s, (c, i) => (i % 2 === 0 ? c.toLowerCase() : c.toUpperCase())).join("") },
  { name: "insert-1", title: "Insert Number 1 Between Every Word", apply: (s) => words(s).join(" 1 ") },
  { name: "star-vowels", title: "Replace Vowels with *", apply: (s) => Array.from(s, (c) => (VOWELS.has(c) ? "*" : c)).join("") },
  { name: "double-consonants", title: "Double Every Consonant", apply: (s) => Array.from(s, (c) => (isConsonant(c) ? c + c : c)).join("") },
  { name: "capitalize-words", title: "Capitalize Every Word", apply: (s) => words(s).map(capitalize).join(" ") },
  { name: "drop-vowels", title: "Remove All Vowels", apply: (s) => Array.from(s, (c) => (VOWELS.has(c) ? "" : c)).join("") },
  {
    name: "add-ly",
    title: "Add 'ly' To End of Each Word",
    apply: (s) =>
      words(s)
        .map((w) => `${w}ly`)
        .join(" "),
  },
  { name: "drop-consonants", title: "Remove All Consonants", apply: (s) => Array.from(s, (c) => (isConsonant(c) ? "" : c)).join("") },
  {
    name: "repeat-words",
    title: "Repeat Each Word Twice",
    apply: (s) =>
      words(s)
        .flatMap((w) => [w, w])
        .join(" "),
  },
];

/**
 * How a transformation document's prompt reads: "sentence" (the sentence alone) or "named" (the
 * transformation's title, a colon, then the sentence, as the paper's prompt names it).
 */
export const TRANSFORMATION_PROMPTS = ["sentence", "named"] as const;
export type TransformationPrompt = (typeof TRANSFORMATION_PROMPTS)[number];

/** A transformation document split where the model takes over: its prompt (ending with the separator) and the transformed sentence. */
export function transformationDocument(t: { title: string; apply: (s: string) => string }, sentence: string, prompt: TransformationPrompt = "sentence"): { prompt: string; transformed: string } {
  const named = prompt === "named" ? `${t.title}: ` : "";
  return { prompt: `${named}${sentence}${TRANSFORMATION_SEPARATOR}`, transformed: t.apply(sentence) };
}

/** Where the sentences come from: fortunes-min (69 of 10 to 21 characters) or, beside it, the full English collection. */
export const SENTENCE_POOLS = ["fortunes-min", "fortunes"] as const;
export type SentencePool = (typeof SENTENCE_POOLS)[number];

/**
 * Every sentence of the pool (fortunes-min by default; "fortunes": fortunes-min, then the full
 * English collection) of `minChars` to `maxChars` characters that starts with a capital and holds
 * only letters, spaces, apostrophes and commas before its final mark, deduplicated, in corpus
 * order: the sentences the transformations are applied to.
 */
export function shortSentences(minChars: number, maxChars: number, pool: SentencePool = "fortunes-min"): string[] {
  const out = new Set<string>();
  const documents = pool === "fortunes" ? [...loadFortunes().documents, ...loadFortuneSet(FORTUNES).documents] : loadFortunes().documents;
  for (const doc of documents) {
    for (const piece of doc.split(/(?<=[.!?])\s+/)) {
      const s = piece.replace(/\s+/g, " ").trim();
      if (s.length >= minChars && s.length <= maxChars && /^[A-Z][A-Za-z ',]*[.!?]$/.test(s)) out.add(s);
    }
  }
  return [...out];
}
