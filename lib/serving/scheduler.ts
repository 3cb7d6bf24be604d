import { hasCode } from "../errors.js";
import { type Rng, rng } from "../random.js";
import { type ColdStart, NO_ADAPTER_SHA256, type TieredAdapterCache } from "./adapter-cache.js";
import { OpenLoraError } from "./errors.js";
import { keepRecent } from "./metrics.js";
import { type SamplingParams, sampleToken, type TokenLogprobs, tokenLogprobs } from "./sampling.js";
import type { ResidentAdapter } from "./slots.js";
import type { DecodeEngine } from "./strategies.js";

/**
 * Continuous batching (Orca's iteration-level scheduling, as LoRAX runs it across adapters):
 * between any two decode steps, finished sequences leave the batch and queued requests join
 * it, whatever their adapter, as long as the batch has room, the adapter can get a slot, and
 * the last step stayed within the latency budget (a step over budget admits no one, so the
 * running sequences' time per token does not grow). Queued requests' adapters are prefetched
 * from disk while they wait. Every step yields to the event loop, so an HTTP server on the same
 * thread keeps answering.
 *
 * A request fails alone: a batch whose prefill throws is run again one sequence at a time, so
 * only the sequence that cannot run is refused; a decode step that throws tries each row alone
 * and runs again without the rows that fail alone; a row whose logits are not finite (an adapter
 * whose weights overflow) leaves the batch with an error while the other rows, which its
 * arithmetic never touches, go on. A request whose client has gone (cancelled() turns true)
 * leaves the batch before the next decode step and resolves with the tokens it had.
 */
export interface GenerationRequest {
  id: string;
  adapter: string;
  prompt: number[];
  maxTokens: number;
  sampling: SamplingParams;
  /** Seed of the request's own sampling stream. */
  seed: number;
  /** Called with each generated token as soon as it exists (streaming), with its log-probabilities when asked for. */
  onToken?: (token: number, index: number, logprobs?: TokenLogprobs) => void;
  /** True when generation should stop after these tokens (stop sequences). */
  shouldStop?: (tokens: number[]) => boolean;
  /** True once nobody waits for the result (the client disconnected): checked at every step. */
  cancelled?: () => boolean;
  /** Log-probabilities of each sampled token and of the k most likely ones, when set (k ≥ 0). */
  logprobs?: number;
}

/** "cancelled": the client left; tokens holds what was generated until then. */
export type FinishReason = "length" | "stop" | "cancelled";

export interface GenerationResult {
  id: string;
  adapter: string;
  adapterSha256: string;
  baseSha256: string;
  prompt: number[];
  tokens: number[];
  finishReason: FinishReason;
  /** Per token, when the request asked for log-probabilities. */
  logprobs?: TokenLogprobs[];
  /** Milliseconds: waiting in the queue, until the first token, in all; how the adapter arrived. */
  timings: { queuedMs: number; firstTokenMs: number; totalMs: number; coldStart: ColdStart };
}

export interface SchedulerOptions {
  engine: DecodeEngine;
  cache: TieredAdapterCache;
  blockSize: number;
  maxBatchSize: number;
  /** A decode step slower than this admits no new sequence before the next step. */
  stepBudgetMs?: number;
}

interface Waiting {
  req: GenerationRequest;
  submitted: number;
  resolve: (r: GenerationResult) => void;
  reject: (e: unknown) => void;
}

interface Running extends Waiting {
  resident: ResidentAdapter;
  cold: ColdStart;
  tokens: number[];
  random: Rng;
  admitted: number;
  firstToken?: number;
  logprobs?: TokenLogprobs[];
}

export interface SchedulerStats {
  steps: number;
  admitted: number;
  finished: number;
  failed: number;
  /** Sequences that left because their client disconnected. */
  cancelled: number;
  /** Sizes of the batch at the most recent decode steps (the last 1,024). */
  batchSizes: number[];
  stepMs: number[];
}

/** The refusal of a sequence whose step throws when it runs alone: its own cause, kept. */
function runFailed(s: Running, cause: unknown): OpenLoraError {
  if (cause instanceof OpenLoraError) return cause;
  return new OpenLoraError({
    code: "adapter/run-failed",
    status: 500,
    fields: { adapter: s.req.adapter, request: s.req.id, token: s.tokens.length, cause: cause instanceof Error ? cause.message : String(cause) },
    message: `request ${s.req.id} on adapter "${s.req.adapter}" failed at token ${s.tokens.length}, run alone as in the batch: ${cause instanceof Error ? cause.message : String(cause)}`,
    hint: "the rest of the batch was served; if the adapter's requests keep failing, unload it and load it again",
    cause,
  });
}

export class Scheduler {
  private readonly queue: Waiting[] = [];
  private readonly running = new Map<string, Running>();
  private looping = false;
  private lastStepMs = 0;
  readonly stats: SchedulerStats = { steps: 0, admitted: 0, finished: 0, failed: 0, cancelled: 0, batchSizes: [], stepMs: [] };

  constructor(readonly opts: SchedulerOptions) {
    if (!Number.isInteger(opts.maxBatchSize) || opts.maxBatchSize < 1)
      throw new OpenLoraError({
        code: "scheduler/bad-batch",
        fields: { maxBatchSize: opts.maxBatchSize },
        message: `max batch size ${opts.maxBatchSize} is not a positive integer`,
        hint: "give a batch size of 1 or more",
      });
  }

  /** Checks a request before it queues: a refusal costs no compute and touches no other request. */
  validate(req: GenerationRequest): void {
    this.opts.cache.check(req.adapter);
    const { blockSize } = this.opts;
    if (req.prompt.length === 0) throw new OpenLoraError({ code: "request/empty-prompt", fields: { id: req.id }, message: "the prompt is empty", hint: "send at least one character of prompt" });
    if (req.prompt.length > blockSize)
      throw new OpenLoraError({
        code: "request/prompt-too-long",
        fields: { id: req.id, promptTokens: req.prompt.length, blockSize },
        message: `the prompt has ${req.prompt.length} tokens; the model's block size is ${blockSize}`,
        hint: `shorten the prompt to ${blockSize} tokens or fewer`,
      });
    if (!Number.isInteger(req.maxTokens) || req.maxTokens < 1)
      throw new OpenLoraError({
        code: "request/bad-max-tokens",
        fields: { id: req.id, maxTokens: req.maxTokens },
        message: `max_tokens ${req.maxTokens} is not a positive integer`,
        hint: "set max_tokens to 1 or more",
      });
    if (this.running.has(req.id) || this.queue.some((w) => w.req.id === req.id))
      throw new OpenLoraError({
        code: "request/duplicate-id",
        status: 409,
        fields: { id: req.id, field: "request_id" },
        message: `request id ${req.id} is already in flight`,
        hint: "give each concurrent request its own request_id",
      });
  }

  submit(req: GenerationRequest): Promise<GenerationResult> {
    try {
      this.validate(req);
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ req, submitted: performance.now(), resolve, reject });
      this.kick();
    });
  }

  queued(): number {
    return this.queue.length;
  }

  active(): number {
    return this.running.size;
  }

  /** Resolves when nothing is queued or running. */
  async idle(): Promise<void> {
    while (this.looping) await new Promise((r) => setTimeout(r, 1));
  }

  private kick(): void {
    if (this.looping) return;
    this.looping = true;
    setImmediate(() => void this.loop());
  }

  private async loop(): Promise<void> {
    try {
      while (this.queue.length || this.running.size) {
        try {
          this.dropCancelled();
          await this.admit();
          await new Promise((r) => setImmediate(r)); // a prefill and a step never run back to back without the server answering
          this.dropCancelled();
          if (this.running.size) await this.step();
        } catch (e) {
          this.failRunning(e);
        }
        await new Promise((r) => setImmediate(r));
      }
    } finally {
      this.looping = false;
    }
  }

  /** A fault inside the engine ends the sequences of that batch, not the server. */
  private failRunning(error: unknown): void {
    const ids = [...this.running.keys()];
    this.opts.engine.release(ids);
    for (const s of this.running.values()) {
      this.opts.cache.release(s.resident);
      this.stats.failed++;
      s.reject(error);
    }
    this.running.clear();
  }

  /** Sequences whose client left: out of the queue and the batch, resolved with what they have. */
  private dropCancelled(): void {
    const gone = this.queue.filter((w) => w.req.cancelled?.());
    if (gone.length) {
      this.queue.splice(0, this.queue.length, ...this.queue.filter((w) => !gone.includes(w)));
      for (const w of gone) {
        this.stats.cancelled++;
        const { store } = this.opts.cache;
        const adapterSha256 = store.has(w.req.adapter) ? store.get(w.req.adapter).sha256 : NO_ADAPTER_SHA256;
        w.resolve(this.resultOf({ ...w, tokens: [], admitted: performance.now() }, "cancelled", { from: this.opts.cache.location(w.req.adapter), ms: 0 }, adapterSha256, store.base.sha256));
      }
    }
    const leaving = [...this.running.values()].filter((s) => s.req.cancelled?.());
    if (leaving.length) this.retire(leaving.map((s) => Object.assign(s, { finish: "cancelled" as const })));
  }

  private async admit(): Promise<void> {
    const { cache, maxBatchSize, stepBudgetMs } = this.opts;
    if (stepBudgetMs !== undefined && this.running.size > 0 && this.lastStepMs > stepBudgetMs) return;
    const joining: Running[] = [];
    const left: Waiting[] = [];
    for (const w of this.queue) {
      if (this.running.size + joining.length >= maxBatchSize || !cache.canAcquire(w.req.adapter)) {
        left.push(w);
        cache.prefetch(w.req.adapter).catch(() => {}); // a failed read is reported at acquire
        continue;
      }
      try {
        const { resident, cold } = cache.acquire(w.req.adapter);
        joining.push({ ...w, resident, cold, tokens: [], random: rng(w.req.seed).fork("sampling"), admitted: performance.now(), logprobs: w.req.logprobs === undefined ? undefined : [] });
      } catch (e) {
        this.stats.failed++;
        w.reject(e);
      }
    }
    this.queue.splice(0, this.queue.length, ...left);
    if (!joining.length) return;
    let logits: Map<string, Float32Array>;
    try {
      logits = await this.opts.engine.admit(joining.map((s) => ({ id: s.req.id, prompt: s.req.prompt, adapter: s.resident })));
    } catch (batchError) {
      if (joining.length === 1) return this.reject(joining[0], batchError);
      logits = new Map();
      for (const s of joining) {
        // the batch again, one sequence at a time: only the one that cannot run is refused
        try {
          for (const [id, l] of await this.opts.engine.admit([{ id: s.req.id, prompt: s.req.prompt, adapter: s.resident }])) logits.set(id, l);
        } catch (e) {
          this.reject(s, e);
        }
      }
    }
    for (const s of joining) if (logits.has(s.req.id)) this.running.set(s.req.id, s);
    this.stats.admitted += logits.size;
    this.emit(logits);
  }

  /** One sequence that has not joined the batch fails; its slot pin is released. */
  private reject(s: Running, error: unknown): void {
    this.opts.cache.release(s.resident);
    this.stats.failed++;
    s.reject(error);
  }

  private async step(): Promise<void> {
    const next = new Map([...this.running].map(([id, s]) => [id, s.tokens[s.tokens.length - 1]]));
    const started = performance.now();
    let logits: Map<string, Float32Array>;
    try {
      logits = await this.opts.engine.step(next);
    } catch (stepError) {
      logits = await this.stepWithoutFaulty(next, stepError);
    }
    this.lastStepMs = performance.now() - started;
    this.stats.steps++;
    keepRecent(this.stats.batchSizes, next.size);
    keepRecent(this.stats.stepMs, this.lastStepMs);
    this.emit(logits);
  }

  /**
   * A decode step threw: each row is tried alone on a copy of its cache (engine.probe); the rows
   * that throw alone fail with their own error, and the step runs again without them. When no
   * row fails alone, or every row does, the fault is the batch's (or the engine's) and every row
   * fails with it (the caller), as they do at once when the engine's worker thread is lost.
   */
  private async stepWithoutFaulty(next: Map<string, number>, stepError: unknown): Promise<Map<string, Float32Array>> {
    // a lost decode thread took every row's cache with it: no row alone is at fault, and probing would start a thread for nothing
    if (next.size <= 1 || hasCode(stepError, "workers/worker-lost")) throw stepError;
    const faulty: Array<{ s: Running; error: unknown }> = [];
    for (const [id, token] of next) {
      try {
        await this.opts.engine.probe(id, token);
      } catch (error) {
        faulty.push({ s: this.running.get(id)!, error });
      }
    }
    if (faulty.length === 0 || faulty.length === next.size) throw stepError; // no row alone is at fault: the batch's own
    this.opts.engine.release(faulty.map((f) => f.s.req.id));
    for (const { s, error } of faulty) {
      this.running.delete(s.req.id);
      this.reject(s, runFailed(s, error));
    }
    const rest = new Map([...next].filter(([id]) => this.running.has(id)));
    return rest.size ? this.opts.engine.step(rest) : new Map();
  }

  /**
   * Samples each sequence's next token, streams it, and retires the finished. A row whose logits
   * are not finite fails alone: the rows beside it never touch its numbers.
   */
  private emit(logits: Map<string, Float32Array>): void {
    const done: Array<Running & { finish: FinishReason }> = [];
    const failed: Running[] = [];
    const now = performance.now();
    for (const [id, l] of logits) {
      const s = this.running.get(id)!;
      if (!l.every(Number.isFinite)) {
        failed.push(s);
        continue;
      }
      const token = sampleToken(l, s.req.sampling, s.random);
      s.tokens.push(token);
      const lp = s.logprobs ? tokenLogprobs(l, token, s.req.logprobs!) : undefined;
      if (lp) s.logprobs!.push(lp);
      s.firstToken ??= now;
      s.req.onToken?.(token, s.tokens.length - 1, lp);
      const full = s.req.prompt.length + s.tokens.length > this.opts.blockSize; // no position left to feed it
      if (s.req.cancelled?.()) done.push(Object.assign(s, { finish: "cancelled" as const }));
      else if (s.req.shouldStop?.(s.tokens)) done.push(Object.assign(s, { finish: "stop" as const }));
      else if (s.tokens.length >= s.req.maxTokens || full) done.push(Object.assign(s, { finish: "length" as const }));
    }
    if (failed.length) {
      this.opts.engine.release(failed.map((s) => s.req.id));
      for (const s of failed) {
        this.running.delete(s.req.id);
        this.reject(
          s,
          new OpenLoraError({
            code: "adapter/non-finite-output",
            status: 422,
            fields: { adapter: s.req.adapter, request: s.req.id, token: s.tokens.length },
            message: `adapter "${s.req.adapter}" produced non-finite logits at token ${s.tokens.length}: its weights overflow on this input`,
            hint: "unload the adapter and retrain it with smaller weights (its other requests fail the same way)",
          }),
        );
      }
    }
    this.retire(done, now);
  }

  /** Finished sequences leave the batch and resolve. */
  private retire(done: Array<Running & { finish: FinishReason }>, now = performance.now()): void {
    if (!done.length) return;
    this.opts.engine.release(done.map((s) => s.req.id));
    for (const s of done) {
      this.running.delete(s.req.id);
      this.opts.cache.release(s.resident);
      if (s.finish === "cancelled") this.stats.cancelled++;
      else this.stats.finished++;
      s.resolve(this.resultOf(s, s.finish, s.cold, s.resident.sha256, s.resident.baseSha256, now));
    }
  }

  private resultOf(
    s: Waiting & { tokens: number[]; admitted: number; firstToken?: number; logprobs?: TokenLogprobs[] },
    finishReason: FinishReason,
    coldStart: ColdStart,
    adapterSha256: string,
    baseSha256 = "",
    now = performance.now(),
  ): GenerationResult {
    return {
      id: s.req.id,
      adapter: s.req.adapter,
      adapterSha256,
      baseSha256,
      prompt: s.req.prompt,
      tokens: s.tokens,
      finishReason,
      logprobs: s.logprobs,
      timings: { queuedMs: s.admitted - s.submitted, firstTokenMs: (s.firstToken ?? now) - s.submitted, totalMs: now - s.submitted, coldStart },
    };
  }
}
