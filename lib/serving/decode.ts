import { causalBias, type GptConfig, scaledDotProductAttention } from "../intelligence/models/gpt.js";
import { gelu, layerNorm, need } from "../intelligence/models/ops.js";
import type { Tensor, Tf, WeightMap } from "../intelligence/models/types.js";

/**
 * Token generation with a key/value cache for the lab's GPT (lib/intelligence/models/gpt.ts):
 * the prompt is run once (prefill), then each new token costs one row per sequence instead of
 * a forward pass over the whole prefix. The layer arithmetic is the model's own (pre-norm
 * blocks, layerNorm and GELU from ops.ts); only the linear layers are handed in, so one decode
 * loop serves every strategy: batched multi-adapter, merged weights or an unmerged adapter.
 *
 * Cache layout, per layer: K and V [L, N, nHead, dh], slot-major. A decode step appends one
 * slot to every row, and appending along the outermost axis is one contiguous copy (on wasm,
 * concatenating along an inner axis, or transposing, costs more than the step's matmuls); the
 * step's attention is written as elementwise products and sums that keep that layout.
 * GPT-2 attention has no position inside the attention product (positions enter once, through
 * wpe), so a key's slot index need not be its position: sequences that joined the batch at
 * different times share L, and a per-row validity mask says which slots hold keys. Invalid
 * slots get −1e9 before the softmax, which makes their weight exactly zero.
 */
export type LinearFn = (name: string, x: Tensor) => Tensor;

export interface KvCache {
  /** Per layer: keys and values [L, N, nHead, dh]. */
  layers: Array<{ k: Tensor; v: Tensor }>;
  /** Per row: 1 where slot l holds a key of that sequence, 0 for padding. Length L each. */
  valid: Uint8Array[];
  /** Per row: tokens seen so far, which is the position of the next token. */
  lengths: number[];
}

const MASKED = -1e9;

/** [L, N, 1]: 0 where row n's slot l holds a key, −1e9 where it is padding. */
function slotBias(tf: Tf, valid: Uint8Array[], L: number): Tensor {
  const N = valid.length;
  const bias = new Float32Array(L * N);
  valid.forEach((row, n) => {
    for (let l = 0; l < L; l++) if (!row[l]) bias[l * N + n] = MASKED;
  });
  return tf.tensor3d(bias, [L, N, 1]);
}

/** [N, T, d] → [N, nHead, T, dh] (for one token a reshape: the axes moved have length 1) */
function splitHeads(tf: Tf, x: Tensor, nHead: number): Tensor {
  const [n, T, d] = x.shape as number[];
  if (T === 1) return tf.reshape(x, [n, nHead, 1, d / nHead]);
  return tf.transpose(tf.reshape(x, [n, T, nHead, d / nHead]), [0, 2, 1, 3]);
}

/** [N, T, d] → slot-major [T, N, nHead, dh] (for one token a reshape) */
function slotMajor(tf: Tf, x: Tensor, nHead: number): Tensor {
  const [n, T, d] = x.shape as number[];
  if (T === 1) return tf.reshape(x, [1, n, nHead, d / nHead]);
  return tf.transpose(tf.reshape(x, [n, T, nHead, d / nHead]), [1, 0, 2, 3]);
}

/** [N, nHead, T, dh] → [N, T, d] */
function mergeHeads(tf: Tf, x: Tensor): Tensor {
  const [n, h, T, dh] = x.shape as number[];
  if (T === 1) return tf.reshape(x, [n, 1, h * dh]);
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

type Attention = (i: number, a: Tensor) => { out: Tensor; k: Tensor; v: Tensor };

/** The blocks over x [N, T, d], attention supplied; returns final hidden states and each layer's new K/V. */
function blocks(tf: Tf, config: GptConfig, w: WeightMap, x: Tensor, linear: LinearFn, attention: Attention) {
  const layers: KvCache["layers"] = [];
  let h = x;
  for (let i = 0; i < config.nLayer; i++) {
    const { out, k, v } = attention(i, layerNorm(tf, w, `h.${i}.ln_1`, h));
    layers.push({ k, v });
    h = tf.add(h, linear(`h.${i}.attn.o_proj`, out));
    const mid = gelu(tf, linear(`h.${i}.mlp.fc_in`, layerNorm(tf, w, `h.${i}.ln_2`, h)));
    h = tf.add(h, linear(`h.${i}.mlp.fc_out`, mid));
  }
  return { hidden: layerNorm(tf, w, "ln_f", h), layers };
}

/** Causal self-attention within the prompts (as the model's forward); K/V leave slot-major. */
function promptAttention(tf: Tf, config: GptConfig, linear: LinearFn, T: number): Attention {
  const mask = causalBias(tf, T);
  return (i, a) => {
    const q = splitHeads(tf, linear(`h.${i}.attn.q_proj`, a), config.nHead);
    const kOut = linear(`h.${i}.attn.k_proj`, a);
    const vOut = linear(`h.${i}.attn.v_proj`, a);
    const k = splitHeads(tf, kOut, config.nHead);
    const v = splitHeads(tf, vOut, config.nHead);
    const out = scaledDotProductAttention(tf, q, k, v, mask); // [N, H, T, dh]
    return { out: mergeHeads(tf, out), k: slotMajor(tf, kOut, config.nHead), v: slotMajor(tf, vOut, config.nHead) };
  };
}

/**
 * One new query per row against the cached slots plus its own key, in the slot-major layout:
 *   scores[l, n, h] = Σ_d q[n, h, d]·K[l, n, h, d] / √dh + bias[l, n]
 *   att = softmax over l;   out[n, h, d] = Σ_l att[l, n, h]·V[l, n, h, d]
 * (the last sum as a [1, L] × [L, N·H·dh] product, which keeps V in place).
 */
function stepAttention(tf: Tf, config: GptConfig, linear: LinearFn, past: KvCache["layers"], bias: Tensor): Attention {
  const { nHead, nEmbd } = config;
  const dh = nEmbd / nHead;
  const scale = 1 / Math.sqrt(dh);
  return (i, a) => {
    const N = a.shape[0]!;
    const q = tf.reshape(linear(`h.${i}.attn.q_proj`, a), [1, N, nHead, dh]);
    const kNew = slotMajor(tf, linear(`h.${i}.attn.k_proj`, a), nHead);
    const vNew = slotMajor(tf, linear(`h.${i}.attn.v_proj`, a), nHead);
    const k = tf.concat([past[i].k, kNew], 0); // [L, N, H, dh]
    const v = tf.concat([past[i].v, vNew], 0);
    const L = k.shape[0]!;
    const scores = tf.add(tf.mul(tf.sum(tf.mul(k, q), 3), scale), bias); // [L, N, H]
    const e = tf.exp(tf.sub(scores, tf.max(scores, 0, true)));
    const att = tf.div(e, tf.sum(e, 0, true));
    const weighted = tf.mul(v, tf.reshape(att, [L, N, nHead, 1]));
    const out = tf.matMul(tf.ones([1, L]), tf.reshape(weighted, [L, N * nEmbd])); // Σ over l
    return { out: tf.reshape(out, [N, 1, nEmbd]), k, v };
  };
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
    const { hidden, layers } = blocks(tf, config, w, x, linear, promptAttention(tf, config, linear, T));
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
  const valid = cache.valid.map((row) => {
    const r = new Uint8Array(L + 1);
    r.set(row);
    r[L] = 1;
    return r;
  });
  const out = tf.tidy(() => {
    const x = embed(
      tf,
      w,
      tokens.map((t) => [t]),
      cache.lengths.map((l) => [l]),
    );
    const { hidden, layers } = blocks(tf, config, w, x, linear, stepAttention(tf, config, linear, cache.layers, slotBias(tf, valid, L + 1)));
    return { logits: tf.reshape(linear("lm_head", hidden), [tokens.length, config.vocabSize]), layers };
  });
  disposeCache(cache);
  return { logits: out.logits, cache: { layers: out.layers, valid, lengths: cache.lengths.map((l) => l + 1) } };
}

function padSlots(tf: Tf, t: Tensor, L: number): Tensor {
  const have = t.shape[0]!;
  return have === L
    ? t
    : tf.pad(t, [
        [0, L - have],
        [0, 0],
        [0, 0],
        [0, 0],
      ]);
}

/** The rows of a and then of b in one cache (L padded to the longer); both inputs are disposed. */
export function joinCaches(tf: Tf, a: KvCache, b: KvCache): KvCache {
  if (a.lengths.length === 0) return b;
  if (b.lengths.length === 0) return a;
  const L = Math.max(a.valid[0].length, b.valid[0].length);
  const layers = a.layers.map((la, i) =>
    tf.tidy(() => ({
      k: tf.concat([padSlots(tf, la.k, L), padSlots(tf, b.layers[i].k, L)], 1),
      v: tf.concat([padSlots(tf, la.v, L), padSlots(tf, b.layers[i].v, L)], 1),
    })),
  );
  const widen = (row: Uint8Array) => {
    const r = new Uint8Array(L);
    r.set(row);
    return r;
  };
  disposeCache(a);
  disposeCache(b);
  return { layers, valid: [...a.valid, ...b.valid].map(widen), lengths: [...a.lengths, ...b.lengths] };
}

/**
 * The cache of the given rows only, in that order, with slots no kept row uses dropped
 * (sequences that finished free their slots here); the input is disposed.
 */
export function selectRows(tf: Tf, cache: KvCache, rows: number[]): KvCache {
  const kept = copyRows(tf, cache, rows);
  disposeCache(cache);
  return kept;
}

/** The given rows of a cache as a new cache (slots none of them uses dropped); the input stays as it was. */
export function copyRows(tf: Tf, cache: KvCache, rows: number[]): KvCache {
  const L = cache.valid[0]?.length ?? 0;
  const used = Array.from({ length: L }, (_, l) => rows.some((r) => cache.valid[r][l] === 1));
  const slots = used.flatMap((u, l) => (u ? [l] : []));
  const layers = cache.layers.map((layer) =>
    tf.tidy(() => {
      const idx = tf.tensor1d(rows, "int32");
      const keep = tf.tensor1d(slots, "int32");
      return { k: tf.gather(tf.gather(layer.k, keep, 0), idx, 1), v: tf.gather(tf.gather(layer.v, keep, 0), idx, 1) };
    }),
  );
  const valid = rows.map((r) => Uint8Array.from(slots, (l) => cache.valid[r][l]));
  const lengths = rows.map((r) => cache.lengths[r]);
  return { layers, valid, lengths };
}

/**
 * One row's next-token logits [1, vocab] for `token`, computed on a copy of its cache row: the
 * cache is left as it was (a row tried alone, when the batch's step threw).
 */
export function probeRow(tf: Tf, config: GptConfig, w: WeightMap, cache: KvCache, row: number, token: number, linear: LinearFn): Tensor {
  const copy = copyRows(tf, cache, [row]);
  try {
    const out = decodeStep(tf, config, w, copy, [token], linear);
    disposeCache(out.cache);
    return out.logits;
  } catch (e) {
    disposeCache(copy); // decodeStep disposes its input only when it succeeds
    throw e;
  }
}

export function disposeCache(cache: KvCache): void {
  for (const l of cache.layers) {
    l.k.dispose();
    l.v.dispose();
  }
}

export function emptyCache(): KvCache {
  return { layers: [], valid: [], lengths: [] };
}
