import { gelu, layerNorm, need } from "../models/ops.js";
import type { GptConfig } from "../models/gpt.js";
import type { Tensor, Tf, WeightMap } from "../models/types.js";

/**
 * Token generation with a key/value cache for the lab's GPT (lib/intelligence/models/gpt.ts):
 * the prompt is run once (prefill), then each new token costs one row per sequence instead of
 * a forward pass over the whole prefix. The layer arithmetic is the model's own (pre-norm
 * blocks, layerNorm and GELU from ops.ts); only the linear layers are handed in, so one decode
 * loop serves every strategy: batched multi-adapter, merged weights or an unmerged adapter.
 *
 * Cache layout, per layer: K and V [N, nHead, L, dh]. GPT-2 attention has no position inside
 * the attention product (positions enter once, through wpe), so a key's slot index along L
 * need not be its position: sequences that joined the batch at different times share L, and a
 * per-row validity mask says which slots hold keys. Invalid slots get −1e9 before the softmax,
 * which makes their weight exactly zero.
 */
export type LinearFn = (name: string, x: Tensor) => Tensor;

export interface KvCache {
  /** Per layer: keys and values [N, nHead, L, dh]. */
  layers: Array<{ k: Tensor; v: Tensor }>;
  /** Per row: 1 where slot l holds a key of that sequence, 0 for padding. Length L each. */
  valid: Uint8Array[];
  /** Per row: tokens seen so far, which is the position of the next token. */
  lengths: number[];
}

const MASKED = -1e9;

function keyBias(tf: Tf, valid: Uint8Array[], L: number): Tensor {
  const bias = new Float32Array(valid.length * L);
  valid.forEach((row, n) => { for (let l = 0; l < L; l++) if (!row[l]) bias[n * L + l] = MASKED; });
  return tf.tensor4d(bias, [valid.length, 1, 1, L]);
}

function causalBias(tf: Tf, T: number): Tensor {
  const a = new Float32Array(T * T);
  for (let t = 0; t < T; t++) for (let s = t + 1; s < T; s++) a[t * T + s] = MASKED;
  return tf.tensor2d(a, [T, T]);
}

/** [N, T, d] → [N, nHead, T, dh] */
function splitHeads(tf: Tf, x: Tensor, nHead: number): Tensor {
  const [n, T, d] = x.shape as number[];
  return tf.transpose(tf.reshape(x, [n, T, nHead, d / nHead]), [0, 2, 1, 3]);
}

/** [N, nHead, T, dh] → [N, T, d] */
function mergeHeads(tf: Tf, x: Tensor): Tensor {
  const [n, h, T, dh] = x.shape as number[];
  return tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [n, T, h * dh]);
}

function embed(tf: Tf, w: WeightMap, ids: number[][], positions: number[][]): Tensor {
  const n = ids.length;
  const T = ids[0].length;
  const d = need(w, "wte.weight").shape[1]!;
  const tok = tf.gather(need(w, "wte.weight"), tf.tensor1d(ids.flat(), "int32"));
  const pos = tf.gather(need(w, "wpe.weight"), tf.tensor1d(positions.flat(), "int32"));
  return tf.reshape(tf.add(tok, pos), [n, T, d]);
}

/**
 * One pass of the blocks over new tokens x [N, T, d]: each layer's keys and values are the
 * cached ones (if any) followed by the new ones; `bias` [N|1, 1, T, L+T] says what each new
 * query may attend to. Returns the final hidden states and the grown per-layer K/V.
 */
function blocks(tf: Tf, config: GptConfig, w: WeightMap, x: Tensor, bias: Tensor, linear: LinearFn, past?: KvCache["layers"]) {
  const { nLayer, nHead, nEmbd } = config;
  const scale = 1 / Math.sqrt(nEmbd / nHead);
  const layers: KvCache["layers"] = [];
  let h = x;
  for (let i = 0; i < nLayer; i++) {
    const a = layerNorm(tf, w, `h.${i}.ln_1`, h);
    const q = splitHeads(tf, linear(`h.${i}.attn.q_proj`, a), nHead);
    let k = splitHeads(tf, linear(`h.${i}.attn.k_proj`, a), nHead);
    let v = splitHeads(tf, linear(`h.${i}.attn.v_proj`, a), nHead);
    if (past) {
      k = tf.concat([past[i].k, k], 2);
      v = tf.concat([past[i].v, v], 2);
    }
    layers.push({ k, v });
    const scores = tf.add(tf.mul(tf.matMul(q, k, false, true), scale), bias); // [N, H, T, L]
    const att = tf.softmax(scores as any);
    h = tf.add(h, linear(`h.${i}.attn.o_proj`, mergeHeads(tf, tf.matMul(att, v))));
    const mid = gelu(tf, linear(`h.${i}.mlp.fc_in`, layerNorm(tf, w, `h.${i}.ln_2`, h)));
    h = tf.add(h, linear(`h.${i}.mlp.fc_out`, mid));
  }
  return { hidden: layerNorm(tf, w, "ln_f", h), layers };
}

/**
 * Runs prompts (token ids, 1..blockSize each) through the model, right-padded to the longest;
 * returns the next-token logits of each prompt's last real position [n, vocab] and its cache.
 * Padding sits after each prompt, so the causal mask already hides it from real queries; the
 * cache marks it invalid for the steps that follow.
 */
export function prefill(tf: Tf, config: GptConfig, w: WeightMap, prompts: number[][], linear: LinearFn): { logits: Tensor; cache: KvCache } {
  const T = Math.max(...prompts.map((p) => p.length));
  const padded = prompts.map((p) => [...p, ...new Array(T - p.length).fill(0)]);
  const positions = prompts.map(() => Array.from({ length: T }, (_, t) => t));
  const out = tf.tidy(() => {
    const x = embed(tf, w, padded, positions);
    const { hidden, layers } = blocks(tf, config, w, x, causalBias(tf, T), linear);
    // hidden [n, T, d] → each prompt's last real row [n, d]
    const rows = prompts.map((p, n) => n * T + p.length - 1);
    const last = tf.gather(tf.reshape(hidden, [prompts.length * T, config.nEmbd]), tf.tensor1d(rows, "int32"));
    const logits = linear("lm_head", tf.reshape(last, [prompts.length, 1, config.nEmbd]));
    return { logits: tf.reshape(logits, [prompts.length, config.vocabSize]), layers };
  });
  const valid = prompts.map((p) => Uint8Array.from({ length: T }, (_, t) => (t < p.length ? 1 : 0)));
  return { logits: out.logits, cache: { layers: out.layers, valid, lengths: prompts.map((p) => p.length) } };
}

/**
 * One token for every row of the cache: tokens[n] is row n's newest token, at position
 * cache.lengths[n]. Returns next-token logits [N, vocab] and the cache grown by one slot (the
 * old cache's tensors are disposed).
 */
export function decodeStep(tf: Tf, config: GptConfig, w: WeightMap, cache: KvCache, tokens: number[], linear: LinearFn): { logits: Tensor; cache: KvCache } {
  if (tokens.length !== cache.lengths.length) throw new RangeError(`decodeStep: ${tokens.length} tokens for ${cache.lengths.length} cached rows`);
  const over = cache.lengths.findIndex((l) => l >= config.blockSize);
  if (over >= 0) throw new RangeError(`decodeStep: row ${over} is at position ${cache.lengths[over]}, past blockSize ${config.blockSize}`);
  const L = cache.valid[0]?.length ?? 0;
  const valid = cache.valid.map((row) => { const r = new Uint8Array(L + 1); r.set(row); r[L] = 1; return r; });
  const out = tf.tidy(() => {
    const x = embed(tf, w, tokens.map((t) => [t]), cache.lengths.map((l) => [l]));
    const { hidden, layers } = blocks(tf, config, w, x, keyBias(tf, valid, L + 1), linear, cache.layers);
    return { logits: tf.reshape(linear("lm_head", hidden), [tokens.length, config.vocabSize]), layers };
  });
  disposeCache(cache);
  return { logits: out.logits, cache: { layers: out.layers, valid, lengths: cache.lengths.map((l) => l + 1) } };
}

function padSlots(tf: Tf, t: Tensor, L: number): Tensor {
  const have = t.shape[2]!;
  return have === L ? t : tf.pad(t, [[0, 0], [0, 0], [0, L - have], [0, 0]]);
}

/** The rows of a and then of b in one cache (L padded to the longer); both inputs are disposed. */
export function joinCaches(tf: Tf, a: KvCache, b: KvCache): KvCache {
  if (a.lengths.length === 0) return b;
  if (b.lengths.length === 0) return a;
  const L = Math.max(a.valid[0].length, b.valid[0].length);
  const layers = a.layers.map((la, i) => tf.tidy(() => ({
    k: tf.concat([padSlots(tf, la.k, L), padSlots(tf, b.layers[i].k, L)], 0),
    v: tf.concat([padSlots(tf, la.v, L), padSlots(tf, b.layers[i].v, L)], 0),
  })));
  const widen = (row: Uint8Array) => { const r = new Uint8Array(L); r.set(row); return r; };
  disposeCache(a);
  disposeCache(b);
  return { layers, valid: [...a.valid, ...b.valid].map(widen), lengths: [...a.lengths, ...b.lengths] };
}

/**
 * The cache of the given rows only, in that order, with slots no kept row uses dropped
 * (sequences that finished free their slots here); the input is disposed.
 */
export function selectRows(tf: Tf, cache: KvCache, rows: number[]): KvCache {
  const L = cache.valid[0]?.length ?? 0;
  const used = Array.from({ length: L }, (_, l) => rows.some((r) => cache.valid[r][l] === 1));
  const slots = used.flatMap((u, l) => (u ? [l] : []));
  const layers = cache.layers.map((layer) => tf.tidy(() => {
    const idx = tf.tensor1d(rows, "int32");
    const keep = tf.tensor1d(slots, "int32");
    return { k: tf.gather(tf.gather(layer.k, idx, 0), keep, 2), v: tf.gather(tf.gather(layer.v, idx, 0), keep, 2) };
  }));
  const valid = rows.map((r) => Uint8Array.from(slots, (l) => cache.valid[r][l]));
  const lengths = rows.map((r) => cache.lengths[r]);
  disposeCache(cache);
  return { layers, valid, lengths };
}

export function disposeCache(cache: KvCache): void {
  for (const l of cache.layers) { l.k.dispose(); l.v.dispose(); }
}

export function emptyCache(): KvCache {
  return { layers: [], valid: [], lengths: [] };
}

/** Bytes the cache's tensors hold (float32). */
export function cacheBytes(cache: KvCache): number {
  return cache.layers.reduce((s, l) => s + 4 * (l.k.size + l.v.size), 0);
}
