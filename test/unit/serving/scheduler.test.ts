import { expect } from "chai";
import { hasCode } from "../../../lib/errors.js";
import { BatchedEngine, createEngine, type GenerationRequest, GREEDY, OpenLoraError, Scheduler, servingLayers, ThreadedEngine } from "../../../lib/serving/index.js";
import { expectCodeAsync } from "../expect-code.js";
import { generatedAdapters, servingStack, tf, tinyBase } from "./fixtures.js";

const base = await tinyBase();
const { dirs } = generatedAdapters(base.info, 6);
const layers = servingLayers(tf, base.weights, base.model.linearModules);

function request(i: number, adapter: string, extra: Partial<GenerationRequest> = {}): GenerationRequest {
  return { id: `r${i}`, adapter, prompt: [1 + (i % 5), 2, 3].slice(0, 1 + (i % 3)), maxTokens: 3 + (i % 4), sampling: GREEDY, seed: i, ...extra };
}

describe("OpenLoRA scheduler", () => {
  it("continuous batching gives each request the tokens it gets when served alone", async () => {
    const stack = servingStack(base.info, dirs, { slots: 4 });
    const sched = new Scheduler({ engine: new BatchedEngine(tf, base.model.config, base.weights, layers, stack.bank), cache: stack.cache, blockSize: 12, maxBatchSize: 3 });
    const reqs = Array.from({ length: 10 }, (_, i) => request(i, `a${i % 6}`));
    const batched = await Promise.all(reqs.map((r) => sched.submit(r)));
    expect(sched.stats.batchSizes.some((n) => n > 1)).to.equal(true);
    expect(Math.max(...sched.stats.batchSizes)).to.be.at.most(3);
    expect(stack.cache.stats.slotEvictions).to.be.greaterThan(0); // six adapters through four slots
    const alone = servingStack(base.info, dirs);
    const solo = new Scheduler({ engine: createEngine("unmerged-loop", tf, base.model.config, base.weights, layers, alone.bank), cache: alone.cache, blockSize: 12, maxBatchSize: 1 });
    for (const [i, r] of reqs.entries()) {
      const one = await solo.submit({ ...r });
      expect(batched[i].tokens, r.id).to.deep.equal(one.tokens);
      expect(batched[i].tokens).to.have.length(r.maxTokens);
    }
  });

  it("streams every token before the request resolves, and stops at the block size", async () => {
    const stack = servingStack(base.info, dirs);
    const sched = new Scheduler({ engine: new BatchedEngine(tf, base.model.config, base.weights, layers, stack.bank), cache: stack.cache, blockSize: 12, maxBatchSize: 4 });
    const streamed: number[] = [];
    const r = await sched.submit(request(0, "a1", { prompt: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], maxTokens: 50, onToken: (t) => streamed.push(t) }));
    expect(streamed).to.deep.equal(r.tokens);
    expect(r.tokens).to.have.length(3); // positions 10 and 11 are fed; the third token is the last
    expect(r.finishReason).to.equal("length");
  });

  it("a stream mixing good and bad requests serves every good one; each bad one is refused with its code", async () => {
    const stack = servingStack(base.info, dirs, { slots: 3 });
    const sched = new Scheduler({ engine: new BatchedEngine(tf, base.model.config, base.weights, layers, stack.bank), cache: stack.cache, blockSize: 12, maxBatchSize: 4 });
    const bad: Array<[GenerationRequest, string]> = [
      [request(100, "nope"), "adapter/unknown"],
      [request(101, "a0", { prompt: new Array(13).fill(1) }), "request/prompt-too-long"],
      [request(102, "a0", { prompt: [] }), "request/empty-prompt"],
      [request(103, "a0", { maxTokens: 0 }), "request/bad-max-tokens"],
    ];
    const good = Array.from({ length: 8 }, (_, i) => request(i, `a${i % 6}`));
    const mixed = [good[0], bad[0][0], good[1], good[2], bad[1][0], good[3], bad[2][0], good[4], good[5], bad[3][0], good[6], good[7]];
    const settled = await Promise.allSettled(mixed.map((r) => sched.submit(r)));
    const byId = new Map(mixed.map((r, i) => [r.id, settled[i]]));
    for (const g of good) expect(byId.get(g.id)!.status, g.id).to.equal("fulfilled");
    for (const [r, code] of bad) {
      const s = byId.get(r.id)!;
      expect(s.status).to.equal("rejected");
      expect(hasCode((s as PromiseRejectedResult).reason, code), `${r.id} → ${code}`).to.equal(true);
    }
    expect(sched.stats.finished).to.equal(8);
  });

  it("a step over the latency budget admits no one until the batch drains; without a budget, newcomers join at once", async () => {
    const sizes: number[][] = [];
    for (const budget of [0, undefined]) {
      const stack = servingStack(base.info, dirs);
      const sched = new Scheduler({ engine: new BatchedEngine(tf, base.model.config, base.weights, layers, stack.bank), cache: stack.cache, blockSize: 12, maxBatchSize: 8, stepBudgetMs: budget });
      const later: Array<Promise<unknown>> = [];
      // r1..r3 arrive after r0's first decode step, while r0 still has tokens to go
      const first = sched.submit(
        request(0, "a0", {
          maxTokens: 6,
          onToken: (_, i) => {
            if (i === 1) for (let k = 1; k <= 3; k++) later.push(sched.submit(request(k, `a${k}`, { maxTokens: 3 })));
          },
        }),
      );
      await first;
      await Promise.all(later);
      sizes.push(sched.stats.batchSizes);
    }
    expect(Math.max(...sizes[0])).to.equal(3); // r0 alone, then the three together
    expect(Math.max(...sizes[1])).to.equal(4);
  });

  it("a cancelled request leaves before the next decode step with the tokens it had; its neighbours finish whole", async () => {
    const stack = servingStack(base.info, dirs);
    const sched = new Scheduler({ engine: new BatchedEngine(tf, base.model.config, base.weights, layers, stack.bank), cache: stack.cache, blockSize: 12, maxBatchSize: 4 });
    let gone = false;
    const cut = sched.submit(request(0, "a0", { maxTokens: 8, onToken: (_, i) => (gone = i === 2 || gone), cancelled: () => gone }));
    const queuedAndGone = sched.submit(request(1, "a1", { maxTokens: 4, cancelled: () => true }));
    const whole = sched.submit(request(2, "a2", { maxTokens: 8 }));
    const [c, q, w] = await Promise.all([cut, queuedAndGone, whole]);
    expect(c.finishReason).to.equal("cancelled");
    expect(c.tokens).to.have.length(3); // the token whose delivery found the client gone is the last
    expect(q).to.deep.include({ finishReason: "cancelled", tokens: [] });
    expect(w.tokens).to.have.length(8);
    expect(sched.stats.cancelled).to.equal(2);
    expect(sched.active()).to.equal(0);
  });

  it("a decode step that throws on one row fails that request alone: the step runs again without it, and its neighbours get the tokens they get without it", async () => {
    const stack = servingStack(base.info, dirs);
    const sched = new Scheduler({ engine: new BatchedEngine(tf, base.model.config, base.weights, layers, stack.bank), cache: stack.cache, blockSize: 12, maxBatchSize: 8 });
    const good = [request(1, "a0", { maxTokens: 6 }), request(2, "a2", { maxTokens: 6 }), request(3, "a3", { maxTokens: 6 })];
    const late = request(4, "a4", { maxTokens: 5 });
    const answers: Array<Promise<unknown>> = [];
    // adapter a1 fails at run time, after its prefill: reading its blocks in the slot now throws,
    // so every batch step that gathers them throws (the late request's join makes the next step gather)
    const faulty = sched.submit(
      request(0, "a1", {
        maxTokens: 6,
        onToken: (_, i) => {
          if (i !== 0) return;
          const slot = stack.bank.occupied().find((r) => r.id === "a1")!.slot;
          const blocks = stack.bank.blocks(slot)!;
          for (const [name, blk] of blocks)
            blocks.set(name, {
              get a(): Float32Array {
                throw new RangeError("the slot's blocks of a1 are unreadable");
              },
              b: blk.b,
            });
          answers.push(sched.submit(late));
        },
      }),
    );
    const refused = expectCodeAsync(faulty, OpenLoraError, "adapter/run-failed", { adapter: "a1", request: "r0", token: 1 });
    const served = await Promise.all(good.map((r) => sched.submit(r)));
    await refused;
    const [lateServed] = (await Promise.all(answers)) as Array<{ tokens: number[] }>;
    expect(sched.stats.failed).to.equal(1);
    expect(sched.active()).to.equal(0);

    const alone = servingStack(base.info, dirs);
    const solo = new Scheduler({ engine: new BatchedEngine(tf, base.model.config, base.weights, layers, alone.bank), cache: alone.cache, blockSize: 12, maxBatchSize: 1 });
    for (const [i, r] of [...good, late].entries()) expect((await solo.submit({ ...r, onToken: undefined })).tokens).to.deep.equal(i < 3 ? served[i].tokens : lateServed.tokens);
  });

  it("the engine in a worker thread gives the tokens of the engine on this thread, seed for seed, and a cancelled request leaves within a step", async () => {
    const sampled = { temperature: 0.9, topP: 0.95 };
    const reqs = Array.from({ length: 6 }, (_, i) => request(i, `a${i % 4}`, { maxTokens: 7, sampling: sampled, seed: 40 + i }));
    const here = servingStack(base.info, dirs);
    const local = new Scheduler({ engine: new BatchedEngine(tf, base.model.config, base.weights, layers, here.bank), cache: here.cache, blockSize: 12, maxBatchSize: 4 });
    const expected = await Promise.all(reqs.map((r) => local.submit({ ...r })));

    const there = servingStack(base.info, dirs);
    const engine = new ThreadedEngine(tf, base.model.config, base.weights, there.bank);
    try {
      const threaded = new Scheduler({ engine, cache: there.cache, blockSize: 12, maxBatchSize: 4 });
      let gone = false;
      const cut = threaded.submit(request(9, "a1", { maxTokens: 9, onToken: (_, i) => (gone = i === 1 || gone), cancelled: () => gone }));
      const got = await Promise.all(reqs.map((r) => threaded.submit({ ...r })));
      expect(got.map((r) => r.tokens)).to.deep.equal(expected.map((r) => r.tokens));
      const c = await cut;
      expect(c.finishReason).to.equal("cancelled");
      expect(c.tokens).to.have.length(2);
      expect(engine.running()).to.deep.equal([]);
    } finally {
      engine.dispose();
    }
  });

  it("a decode thread that dies mid-batch fails the requests it held with workers/worker-lost; the next request starts a fresh thread and gets its own tokens", async () => {
    const reqs = Array.from({ length: 3 }, (_, i) => request(i, `a${i}`, { maxTokens: 8 }));
    const later = request(7, "a3", { maxTokens: 5 });
    const here = servingStack(base.info, dirs);
    const local = new Scheduler({ engine: new BatchedEngine(tf, base.model.config, base.weights, layers, here.bank), cache: here.cache, blockSize: 12, maxBatchSize: 4 });
    const expected = await local.submit({ ...later });

    const there = servingStack(base.info, dirs);
    const engine = new ThreadedEngine(tf, base.model.config, base.weights, there.bank);
    try {
      const threaded = new Scheduler({ engine, cache: there.cache, blockSize: 12, maxBatchSize: 4 });
      // the thread ends as a crash ends it (its exit event), after the first row's second token
      // biome-ignore lint/complexity/useLiteralKeys: the engine's worker is private; the test ends it from outside, as a crash would
      const killer = { ...reqs[0], onToken: (_: number, i: number) => void (i === 1 && engine["worker"]?.terminate()) };
      const settled = await Promise.allSettled([killer, ...reqs.slice(1)].map((r) => threaded.submit(r)));
      for (const s of settled) {
        expect(s.status).to.equal("rejected");
        expect(hasCode((s as PromiseRejectedResult).reason, "workers/worker-lost")).to.equal(true);
      }
      expect(engine.running()).to.deep.equal([]);
      expect(threaded.stats.failed).to.equal(3);
      // biome-ignore lint/complexity/useLiteralKeys: the engine's worker is private; the test reads whether a new one was started
      expect(engine["worker"]?.stopped, "no thread is started to probe rows whose caches are gone").to.equal(true);
      const again = await threaded.submit({ ...later });
      expect(again.tokens).to.deep.equal(expected.tokens);
    } finally {
      engine.dispose();
    }
  });
});
