import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { expect } from "chai";
import { createGpt } from "../../../lib/intelligence/models/gpt.js";
import { hostileLoadRun, weightsSha256 } from "../../../lib/serving/index.js";
import { tf } from "./fixtures.js";

/** The bench's load run at a size a unit test affords: every hostile case and a cut stream in each round. */
describe("OpenLoRA: the hostile load run", function () {
  this.timeout(120_000);

  it("answers every good request in full and every hostile one with its status and code, then leaves no folder behind", async () => {
    // a byte-level vocabulary (the run's prompts are characters from space up) on a tiny GPT
    const model = createGpt(tf, { vocabSize: 128, blockSize: 32, nLayer: 1, nHead: 2, nEmbd: 16 });
    const weights = model.init(4);
    const foldersOf = () => readdirSync(tmpdir()).filter((n) => n.startsWith("openlora-load-"));
    const before = foldersOf();
    // 15 hostile requests a round: the 14 cases and the client that hangs up, each once
    const result = await hostileLoadRun(
      tf,
      model,
      { weights, sha256: await weightsSha256(weights) },
      { rounds: 2, requestsPerRound: 30, concurrency: 6, adapters: 4, hostileShare: 0.5, maxTokens: 3, seed: 2, decodeThread: false },
    );
    expect(result.failures).to.deep.equal([]);
    expect(result.misses).to.deep.equal([]);
    for (const r of result.rounds) {
      expect([r.good, r.goodAnswered, r.hostile, r.hostile4xx, r.aborted]).to.deep.equal([15, 15, 14, 14, 1]);
    }
    expect(result.healthProbes).to.be.greaterThan(0);
    expect(foldersOf()).to.deep.equal(before);
  });
});
