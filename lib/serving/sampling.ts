import type { Rng } from "../random.js";

/** Sampling settings, named as in OpenAI's completions API. */
export interface SamplingParams {
  /** 0 is greedy (argmax); otherwise logits are divided by it before the softmax. */
  temperature: number;
  /** Nucleus sampling: draw from the smallest set of tokens whose probability reaches top_p. */
  topP: number;
}

export const GREEDY: SamplingParams = { temperature: 0, topP: 1 };

function argmax(logits: Float32Array): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

/** One token from next-token logits; the request's own seeded stream makes it reproducible. */
export function sampleToken(logits: Float32Array, params: SamplingParams, r: Rng): number {
  if (params.temperature <= 0) return argmax(logits);
  let max = -Infinity;
  for (const l of logits) max = Math.max(max, l);
  const probs = Array.from(logits, (l, i) => ({ i, p: Math.exp((l - max) / params.temperature) }));
  const total = probs.reduce((s, x) => s + x.p, 0);
  probs.sort((a, b) => b.p - a.p || a.i - b.i);
  let kept = 0;
  let mass = 0;
  while (kept < probs.length && mass < params.topP * total) mass += probs[kept++].p;
  let u = r.next() * mass;
  for (let k = 0; k < kept; k++) {
    u -= probs[k].p;
    if (u <= 0) return probs[k].i;
  }
  return probs[kept - 1].i;
}

/** The log-probability of a sampled token and the k most likely tokens, as OpenAI's logprobs report them. */
export interface TokenLogprobs {
  token: number;
  logprob: number;
  /** The k most likely tokens, most likely first (ties by token id). */
  top: Array<{ token: number; logprob: number }>;
}

/**
 * log softmax of the model's raw logits (before temperature and top_p, as vLLM reports them by
 * default) at the sampled token, and the top k.
 */
export function tokenLogprobs(logits: Float32Array, token: number, k: number): TokenLogprobs {
  let max = -Infinity;
  for (const l of logits) max = Math.max(max, l);
  let total = 0;
  for (const l of logits) total += Math.exp(l - max);
  const logZ = max + Math.log(total);
  const order = k > 0 ? Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a] || a - b) : [];
  return { token, logprob: logits[token] - logZ, top: order.slice(0, k).map((t) => ({ token: t, logprob: logits[t] - logZ })) };
}
