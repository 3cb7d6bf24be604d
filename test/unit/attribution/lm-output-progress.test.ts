import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { sampleFineTunedLm } from "../../../lib/attribution/lm-output.js";

describe("attribution: the fine-tuned language model's sample reports its progress", function () {
  this.timeout(300_000);

  it("counts the Factory steps, then the sampling; a reused adapter jumps to the sampling; the text does not change", async () => {
    const options = { seed: 5, steps: 3, pretrain: "quick" as const, prompt: "A book ", length: 12, cacheDir: mkdtempSync(join(tmpdir(), "lm-output-")) };
    const trained: Array<[number, number, string | undefined]> = [];
    const first = await sampleFineTunedLm({ ...options, onProgress: (done, total, stage) => trained.push([done, total, stage]) });
    expect(first.adapterFromCache).to.equal(false);
    expect(trained).to.deep.equal([
      [1, 4, "fine-tuning"],
      [2, 4, "fine-tuning"],
      [3, 4, "fine-tuning"],
      [3, 4, "sampling"],
      [4, 4, undefined],
    ]);
    const reused: Array<[number, number, string | undefined]> = [];
    const second = await sampleFineTunedLm({ ...options, onProgress: (done, total, stage) => reused.push([done, total, stage]) });
    expect(second.adapterFromCache).to.equal(true);
    expect(reused).to.deep.equal([
      [3, 4, "sampling"],
      [4, 4, undefined],
    ]);
    const unreported = await sampleFineTunedLm(options);
    expect(second.text).to.equal(first.text);
    expect(unreported.text).to.equal(first.text);
  });
});
