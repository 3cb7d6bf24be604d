import { expect } from "chai";
import { hasCode } from "../../../lib/errors.js";
import { BatchedEngine, createEngine, type GenerationRequest, GREEDY, Scheduler, servingLayers } from "../../../lib/serving/index.js";
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
});
