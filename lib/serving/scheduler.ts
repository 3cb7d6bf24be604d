import { type Rng, rng } from "../random.js";
import type { ColdStart, TieredAdapterCache } from "./adapter-cache.js";
import { OpenLoraError } from "./errors.js";
import { type SamplingParams, sampleToken } from "./sampling.js";
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
 */
export interface GenerationRequest {
  id: string;
  adapter: string;
  prompt: number[];
  maxTokens: number;
  sampling: SamplingParams;
  /** Seed of the request's own sampling stream. */
  seed: number;
  /** Called with each generated token as soon as it exists (streaming). */
  onToken?: (token: number, index: number) => void;
  /** True when generation should stop after these tokens (stop sequences). */
  shouldStop?: (tokens: number[]) => boolean;
}

export type FinishReason = "length" | "stop";

export interface GenerationResult {
  id: string;
  adapter: string;
  adapterSha256: string;
  baseSha256: string;
  prompt: number[];
  tokens: number[];
  finishReason: FinishReason;
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
}

export interface SchedulerStats {
  steps: number;
  admitted: number;
  finished: number;
  failed: number;
  /** Sizes of the batch at each decode step. */
  batchSizes: number[];
  stepMs: number[];
}

export class Scheduler {
  private readonly queue: Waiting[] = [];
  private readonly running = new Map<string, Running>();
  private looping = false;
  private lastStepMs = 0;
  readonly stats: SchedulerStats = { steps: 0, admitted: 0, finished: 0, failed: 0, batchSizes: [], stepMs: [] };

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
    this.opts.cache.store.get(req.adapter);
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
      throw new OpenLoraError({ code: "request/duplicate-id", fields: { id: req.id }, message: `request id ${req.id} is already in flight`, hint: "give each request its own id" });
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
          await this.admit();
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

  private async admit(): Promise<void> {
    const { cache, engine, maxBatchSize, stepBudgetMs } = this.opts;
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
        joining.push({ ...w, resident, cold, tokens: [], random: rng(w.req.seed).fork(w.req.id), admitted: performance.now() });
      } catch (e) {
        this.stats.failed++;
        w.reject(e);
      }
    }
    this.queue.splice(0, this.queue.length, ...left);
    if (!joining.length) return;
    for (const s of joining) this.running.set(s.req.id, s);
    const logits = await engine.admit(joining.map((s) => ({ id: s.req.id, prompt: s.req.prompt, adapter: s.resident })));
    this.stats.admitted += joining.length;
    this.emit(logits);
  }

  private async step(): Promise<void> {
    const next = new Map([...this.running].map(([id, s]) => [id, s.tokens[s.tokens.length - 1]]));
    const started = performance.now();
    const logits = await this.opts.engine.step(next);
    this.lastStepMs = performance.now() - started;
    this.stats.steps++;
    this.stats.batchSizes.push(next.size);
    this.stats.stepMs.push(this.lastStepMs);
    this.emit(logits);
  }

  /** Samples each sequence's next token, streams it, and retires the finished. */
  private emit(logits: Map<string, Float32Array>): void {
    const done: Running[] = [];
    const now = performance.now();
    for (const [id, l] of logits) {
      const s = this.running.get(id)!;
      const token = sampleToken(l, s.req.sampling, s.random);
      s.tokens.push(token);
      s.firstToken ??= now;
      s.req.onToken?.(token, s.tokens.length - 1);
      const full = s.req.prompt.length + s.tokens.length > this.opts.blockSize; // no position left to feed it
      if (s.req.shouldStop?.(s.tokens)) done.push(Object.assign(s, { finish: "stop" as const }));
      else if (s.tokens.length >= s.req.maxTokens || full) done.push(Object.assign(s, { finish: "length" as const }));
    }
    if (!done.length) return;
    this.opts.engine.release(done.map((s) => s.req.id));
    for (const s of done as Array<Running & { finish: FinishReason }>) {
      this.running.delete(s.req.id);
      this.opts.cache.release(s.resident);
      this.stats.finished++;
      s.resolve({
        id: s.req.id,
        adapter: s.req.adapter,
        adapterSha256: s.resident.sha256,
        baseSha256: s.resident.baseSha256,
        prompt: s.req.prompt,
        tokens: s.tokens,
        finishReason: s.finish,
        timings: { queuedMs: s.admitted - s.submitted, firstTokenMs: s.firstToken! - s.submitted, totalMs: now - s.submitted, coldStart: s.cold },
      });
    }
  }
}
