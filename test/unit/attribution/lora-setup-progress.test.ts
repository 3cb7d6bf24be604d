import { expect } from "chai";
import { type DatanetParams, LORA_SETUP_STAGES, loadAttributionSpec, loraDatanetSetup } from "../../../lib/attribution/experiments/index.js";
import { experimentParams } from "../../../lib/experiments/index.js";

describe("attribution: the LoRA datanets' set-up reports its progress", function () {
  this.timeout(300_000);

  it("counts the two trainings, shows each one's steps beside the count, and trains the same adapter without a callback", async () => {
    // 128 pretraining images in batches of 64 for 15 epochs: 30 steps; 10 datanets of 8 images in batches of 32 for 2 epochs: 4 steps
    const p = experimentParams<DatanetParams>(loadAttributionSpec("lora-datanets"), { quick: true, overrides: { pretrainN: 128, perDatanet: 8, nTest: 1, epochs: 2 } });
    const reported: Array<[number, number, string | undefined]> = [];
    const watched = await loraDatanetSetup(p, (done, total, stage) => reported.push([done, total, stage]));
    const steps = (stage: number, n: number) => Array.from({ length: n }, (_, k): [number, number, string] => [stage, 2, `${LORA_SETUP_STAGES[stage]}: ${k + 1} of ${n} steps`]);
    expect(reported).to.deep.equal([[0, 2, "pretraining the base"], ...steps(0, 30), [1, 2, "LoRA training"], ...steps(1, 4), [2, 2, undefined]]);
    const unwatched = await loraDatanetSetup(p);
    expect(Array.from(unwatched.params)).to.deep.equal(Array.from(watched.params));
    expect(Array.from(unwatched.baseParams)).to.deep.equal(Array.from(watched.baseParams));
  });
});
