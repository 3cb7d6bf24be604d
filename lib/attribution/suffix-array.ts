/**
 * Exact-match attribution for language-model output (Infini-gram style): a suffix array over each
 * datanet's corpus answers "how long is the longest span of the output, starting here, that occurs
 * verbatim in this datanet, and how often" in O(L log n) per position. Documents are concatenated
 * with unique separators so no match crosses a document boundary; each occurrence maps back to its
 * document and so to its contributor. The same index answers the ∞-gram of each token of a text
 * (Liu et al. 2024, "Infini-gram"): the longest suffix of what precedes it that occurs in the
 * corpus, and which tokens follow that suffix how often.
 */
import { AttributionError } from "./errors.js";

export interface SuffixIndex {
  /** Concatenated tokens; separators are negative and unique (−1 − documentIndex). */
  text: Int32Array;
  /** Suffix start positions in lexicographic order. */
  sa: Int32Array;
  /** Document of each text position. */
  docOf: Int32Array;
  numDocs: number;
}

/** Suffix array by prefix doubling (Manber–Myers with comparison sorts): O(n log² n), fine for corpora of a few MB. */
export function buildSuffixArray(text: Int32Array): Int32Array {
  const n = text.length;
  const sa = Int32Array.from({ length: n }, (_, i) => i);
  let rank = Int32Array.from(text);
  const tmp = new Int32Array(n);
  for (let k = 1; ; k <<= 1) {
    const key2 = (i: number) => (i + k < n ? rank[i + k] : -0x80000000);
    const arr = Array.from(sa);
    arr.sort((a, b) => rank[a] - rank[b] || key2(a) - key2(b));
    sa.set(arr);
    tmp[sa[0]] = 0;
    for (let i = 1; i < n; i++) {
      const a = sa[i - 1],
        b = sa[i];
      tmp[b] = tmp[a] + (rank[a] !== rank[b] || key2(a) !== key2(b) ? 1 : 0);
    }
    rank = Int32Array.from(tmp);
    if (n === 0 || rank[sa[n - 1]] === n - 1) break;
  }
  return sa;
}

export function buildIndex(documents: Int32Array[]): SuffixIndex {
  const total = documents.reduce((s, d) => s + d.length + 1, 0);
  const text = new Int32Array(total);
  const docOf = new Int32Array(total);
  let o = 0;
  documents.forEach((d, j) => {
    for (let i = 0; i < d.length; i++) {
      if (d[i] < 0)
        throw new AttributionError({
          code: "suffix-array/negative-token",
          message: `document ${j} holds a negative token ${d[i]}`,
          hint: "token ids must be non-negative (negatives are reserved for separators)",
          fields: { document: j, token: d[i] },
        });
    }
    text.set(d, o);
    docOf.fill(j, o, o + d.length + 1);
    o += d.length;
    text[o++] = -1 - j;
  });
  return { text, sa: buildSuffixArray(text), docOf, numDocs: documents.length };
}

/** Compares the suffix at `pos` with pattern[from, to) over the pattern's length: <0, 0 (prefix match) or >0. */
function compareAt(idx: SuffixIndex, pos: number, pattern: ArrayLike<number>, from: number, to: number): number {
  const { text } = idx;
  for (let i = from; i < to; i++) {
    const t = pos + (i - from);
    if (t >= text.length) return -1;
    if (text[t] !== pattern[i]) return text[t] < pattern[i] ? -1 : 1;
  }
  return 0;
}

/** The half-open range of suffix-array rows whose suffixes start with pattern[from, to). */
export function findRange(idx: SuffixIndex, pattern: ArrayLike<number>, from = 0, to = pattern.length): [number, number] {
  let lo = 0,
    hi = idx.sa.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareAt(idx, idx.sa[mid], pattern, from, to) < 0) lo = mid + 1;
    else hi = mid;
  }
  const start = lo;
  hi = idx.sa.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareAt(idx, idx.sa[mid], pattern, from, to) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return [start, lo];
}

export function count(idx: SuffixIndex, pattern: ArrayLike<number>): number {
  const [a, b] = findRange(idx, pattern);
  return b - a;
}

/** Length of the longest prefix of query[start…] occurring in the corpus, and its occurrence count. */
export function longestMatchAt(idx: SuffixIndex, query: ArrayLike<number>, start: number): { length: number; count: number } {
  // the occurrence count only shrinks as the prefix grows: extend while the range is non-empty
  let lo = start,
    hi = query.length,
    best = 0,
    bestCount = 0;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    const [a, b] = findRange(idx, query, start, mid);
    if (b > a) {
      best = mid - start;
      bestCount = b - a;
      lo = mid;
    } else hi = mid - 1;
  }
  return { length: best, count: bestCount };
}

/** Documents (with multiplicity) holding query[start, start+length). */
export function occurrences(idx: SuffixIndex, query: ArrayLike<number>, start: number, length: number): Map<number, number> {
  const [a, b] = findRange(idx, query, start, start + length);
  const out = new Map<number, number>();
  for (let r = a; r < b; r++) {
    const d = idx.docOf[idx.sa[r]];
    out.set(d, (out.get(d) ?? 0) + 1);
  }
  return out;
}

/**
 * Of the suffix-array rows [a, b) whose suffixes start with a pattern of `length` tokens, how many
 * go on with a token (not a document's separator). Separators are negative and so sort first
 * among the rows: one binary search finds where the followed ones begin.
 */
function followedRows(idx: SuffixIndex, a: number, b: number, length: number): number {
  let lo = a,
    hi = b;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (idx.text[idx.sa[mid] + length] < 0) lo = mid + 1;
    else hi = mid;
  }
  return b - lo;
}

/** The ∞-gram estimate of one token given everything before it (Liu et al. 2024, "Infini-gram", §2). */
export interface InfiniGramQuery {
  /** Where the context suffix starts in the query: the longest suffix of query[0, next) that occurs followed by a token. */
  contextStart: number;
  /** Its length (the ∞-gram's effective n is this plus one). */
  contextLength: number;
  /** Occurrences of the context followed by any token: the estimate's denominator. */
  followers: number;
  /** Occurrences of the context followed by query[next]: the numerator. */
  targetCount: number;
}

/**
 * The ∞-gram at `next`: the longest suffix of query[0, next) that occurs in the corpus with a token
 * after it (inside its document), the count of such occurrences and of those followed by
 * query[next], so P∞(query[next] | query[0, next)) = targetCount / followers. Being followed only
 * shrinks as the suffix grows, so its length is found by binary search.
 */
export function infiniGramAt(idx: SuffixIndex, query: ArrayLike<number>, next: number): InfiniGramQuery {
  if (!(Number.isInteger(next) && next >= 0 && next < query.length))
    throw new AttributionError({
      code: "suffix-array/bad-position",
      message: `position ${next} is outside a query of ${query.length} tokens`,
      hint: "ask for the ∞-gram of a token of the query: 0 ≤ next < query.length",
      fields: { next, length: query.length },
    });
  let lo = 0,
    hi = next;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    const [a, b] = findRange(idx, query, next - mid, next);
    if (followedRows(idx, a, b, mid) > 0) lo = mid;
    else hi = mid - 1;
  }
  const [a, b] = findRange(idx, query, next - lo, next);
  const [ta, tb] = findRange(idx, query, next - lo, next + 1);
  return { contextStart: next - lo, contextLength: lo, followers: followedRows(idx, a, b, lo), targetCount: tb - ta };
}

/** The tokens that follow query[from, to) in the corpus, with their counts (the ∞-gram's next-token distribution, unnormalised). */
export function nextTokenCounts(idx: SuffixIndex, query: ArrayLike<number>, from: number, to: number): Map<number, number> {
  const [a, b] = findRange(idx, query, from, to);
  const out = new Map<number, number>();
  for (let r = a; r < b; r++) {
    const token = idx.text[idx.sa[r] + (to - from)];
    if (token >= 0) out.set(token, (out.get(token) ?? 0) + 1);
  }
  return out;
}

export interface MatchSpan {
  start: number;
  length: number;
  /** Datanets holding the span (all tied at this length). */
  datanets: number[];
  /** Occurrences per datanet. */
  counts: number[];
}

export interface MatchAttribution {
  spans: MatchSpan[];
  /** Output tokens credited to each datanet (ties split evenly). */
  datanetScores: Float64Array;
  /** Per datanet: credit per document, split by occurrence counts. */
  documentScores: Map<number, number>[];
  coverage: number;
}

/**
 * Attribution by match: scan the output left to right; at each position take the longest span
 * found in any datanet; if it is at least `minLength` tokens, credit its length to the datanets
 * holding it (evenly on ties) and, inside each, to the documents in proportion to their
 * occurrences; then continue after the span (else one token on).
 */
export function attributeByMatch(indexes: SuffixIndex[], output: ArrayLike<number>, minLength: number): MatchAttribution {
  if (!(minLength >= 1))
    throw new AttributionError({
      code: "suffix-array/bad-min-length",
      message: `minLength must be >= 1, got ${minLength}`,
      hint: "use e.g. 8 characters or 3 tokens",
      fields: { minLength },
    });
  const spans: MatchSpan[] = [];
  const datanetScores = new Float64Array(indexes.length);
  const documentScores = indexes.map(() => new Map<number, number>());
  let covered = 0;
  for (let i = 0; i < output.length; ) {
    const m = indexes.map((idx) => longestMatchAt(idx, output, i));
    const L = Math.max(...m.map((x) => x.length));
    if (L < minLength) {
      i++;
      continue;
    }
    const tied = m.map((x, d) => (x.length === L ? d : -1)).filter((d) => d >= 0);
    spans.push({ start: i, length: L, datanets: tied, counts: tied.map((d) => m[d].count) });
    for (const d of tied) {
      const share = L / tied.length;
      datanetScores[d] += share;
      const occ = occurrences(indexes[d], output, i, L);
      const total = [...occ.values()].reduce((a, b) => a + b, 0);
      const docs = documentScores[d];
      for (const [doc, c] of occ) docs.set(doc, (docs.get(doc) ?? 0) + (share * c) / total);
    }
    covered += L;
    i += L;
  }
  return { spans, datanetScores, documentScores, coverage: output.length ? covered / output.length : 0 };
}

/** Brute force, for checking: longest match at `start` and its count by scanning every document. */
export function bruteForceLongestMatch(documents: Int32Array[], query: ArrayLike<number>, start: number): { length: number; count: number } {
  let best = 0;
  for (const d of documents)
    for (let j = 0; j < d.length; j++) {
      let l = 0;
      while (start + l < query.length && j + l < d.length && d[j + l] === query[start + l]) l++;
      best = Math.max(best, l);
    }
  if (best === 0) return { length: 0, count: 0 };
  let c = 0;
  for (const d of documents)
    for (let j = 0; j + best <= d.length; j++) {
      let ok = true;
      for (let l = 0; l < best && ok; l++) ok = d[j + l] === query[start + l];
      if (ok) c++;
    }
  return { length: best, count: c };
}

/** Brute force, for checking: the ∞-gram at `next` by scanning every document for every suffix length. */
export function bruteForceInfiniGram(documents: Int32Array[], query: ArrayLike<number>, next: number): InfiniGramQuery {
  for (let length = next; ; length--) {
    const counts = bruteForceNextTokenCounts(documents, query, next - length, next);
    const followers = [...counts.values()].reduce((s, c) => s + c, 0);
    if (followers > 0 || length === 0) return { contextStart: next - length, contextLength: length, followers, targetCount: counts.get(query[next]) ?? 0 };
  }
}

/** Brute force, for checking: the tokens that follow query[from, to) in the documents, with their counts. */
export function bruteForceNextTokenCounts(documents: Int32Array[], query: ArrayLike<number>, from: number, to: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const d of documents)
    for (let j = 0; j + (to - from) < d.length; j++) {
      let ok = true;
      for (let l = 0; l < to - from && ok; l++) ok = d[j + l] === query[from + l];
      if (ok) out.set(d[j + to - from], (out.get(d[j + to - from]) ?? 0) + 1);
    }
  return out;
}

/** Text as ids for exact matching: each character its own id, so a match is a verbatim span. */
export function characterIds(text: string): Int32Array {
  return Int32Array.from(text, (c) => c.charCodeAt(0));
}

/** Suffix arrays over text datanets: each datanet's documents, as characters. */
export interface TextMatchIndex {
  datanets: string[];
  documents: Int32Array[][];
  indexes: SuffixIndex[];
}

/** One suffix array per datanet over its documents (characters as ids). */
export function textMatchIndex(datanets: { name: string; documents: readonly string[] }[]): TextMatchIndex {
  const documents = datanets.map((d) => d.documents.map(characterIds));
  return { datanets: datanets.map((d) => d.name), documents, indexes: documents.map(buildIndex) };
}

/** Exact-match attribution of a generated text to the datanets of the index. */
export function attributeTextByMatch(index: TextMatchIndex, output: string, minLength: number): MatchAttribution {
  return attributeByMatch(index.indexes, characterIds(output), minLength);
}

/**
 * Where the suffix arrays and a brute-force scan of every document disagree on the longest match at
 * each span start: empty when the index is right (a check a notebook can afford on a few spans).
 */
export function bruteForceDisagreements(index: TextMatchIndex, output: string, spans: readonly MatchSpan[]): { start: number; datanet: string }[] {
  const query = characterIds(output);
  return spans.flatMap((sp) =>
    index.indexes.flatMap((idx, d) => {
      const fast = longestMatchAt(idx, query, sp.start);
      const slow = bruteForceLongestMatch(index.documents[d], query, sp.start);
      return fast.length === slow.length && fast.count === slow.count ? [] : [{ start: sp.start, datanet: index.datanets[d] }];
    }),
  );
}
