import { expect } from "chai";
import { progressCallback, trailingThrottle } from "../../../lib/notebook/progress.js";
import { stagedProgress } from "../../../lib/progress.js";

/** The lines `draw` prints outside a kernel and a terminal: a progress line once per tenth and at the end. */
function printed(draw: () => void): string[] {
  const lines: string[] = [];
  const original = console.error;
  const tty = Object.getOwnPropertyDescriptor(process.stderr, "isTTY");
  Object.defineProperty(process.stderr, "isTTY", { value: false, configurable: true });
  console.error = (line: string) => lines.push(line);
  try {
    draw();
  } finally {
    console.error = original;
    if (tty) Object.defineProperty(process.stderr, "isTTY", tty);
    else delete (process.stderr as { isTTY?: boolean }).isTTY;
  }
  return lines;
}

describe("notebook: progressCallback draws a layer's onProgress", () => {
  it("starts the line at the first call, shows the stage, and ends it at the total", () => {
    const lines = printed(() => {
      const onProgress = progressCallback("rollup");
      onProgress(0, 4, "opening the chains");
      onProgress(2, 4, "sequencing");
      onProgress(4, 4, "derived");
    });
    expect(lines[0]).to.match(/^rollup \[\.{20}\] 0\/4 \(0%\)/);
    expect(lines[0]).to.include("| opening the chains").and.not.include("left");
    expect(lines.some((l) => l.includes("2/4 (50%)") && l.includes("| sequencing"))).to.equal(true);
    expect(lines[lines.length - 1]).to.match(/^rollup \[#{20}\] 4\/4 \(100%\).*\| derived$/);
  });

  it("ends the line once: a second report of the total draws nothing", () => {
    const lines = printed(() => {
      const onProgress = progressCallback("LDS");
      onProgress(0, 2, "LDS");
      onProgress(2, 2, "LDS: 2 of 2 re-trainings");
      onProgress(2, 2);
    });
    expect(lines.filter((l) => l.includes("2/2 (100%)"))).to.deep.equal([lines[lines.length - 1]]);
    expect(lines[lines.length - 1]).to.match(/\| LDS: 2 of 2 re-trainings$/);
  });
});

describe("notebook: the progress line's trailing throttle", () => {
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it("draws at once, holds calls inside the interval to one draw at its end with the newest state, and a forced draw cancels that", async () => {
    let state = "start";
    const drawn: string[] = [];
    const draw = trailingThrottle(() => drawn.push(state), 200);
    draw(false);
    expect(drawn).to.deep.equal(["start"]);
    state = "stage 1";
    draw(false);
    state = "stage 2";
    draw(false);
    expect(drawn).to.deep.equal(["start"]);
    await sleep(400);
    expect(drawn).to.deep.equal(["start", "stage 2"]);
    state = "stage 3";
    draw(true);
    state = "held";
    draw(false);
    state = "done";
    draw(true);
    await sleep(400);
    expect(drawn).to.deep.equal(["start", "stage 2", "stage 3", "done"]);
  });

  it("drops a timer's redraw that throws (the display gone after its cell) instead of throwing where no caller can catch it", async () => {
    let calls = 0;
    const draw = trailingThrottle(() => {
      calls += 1;
      if (calls > 1) throw new Error("display gone");
    }, 50);
    draw(false);
    draw(false);
    await sleep(200);
    expect(calls).to.equal(2);
  });
});

describe("progress: stages of known sizes as one count", () => {
  it("shows a one-unit stage's steps beside the count, counts a stage's parts from its first unit (named by the part, or counted), skips a stage of no units, and ends at the total", async () => {
    const reported: Array<[number, number, string | undefined]> = [];
    const progress = stagedProgress(
      (done, total, stage) => reported.push([done, total, stage]),
      [
        { name: "set up", units: 1 },
        { name: "re-training", units: 3 },
        { name: "nothing to do", units: 0 },
        { name: "summary", units: 1 },
      ],
    );
    expect(progress.total).to.equal(5);
    await progress.start(0);
    for (const done of [1, 2]) progress.steps(0, "steps")?.(done, 2);
    await progress.start(1);
    const parts = progress.within(1, "runs");
    for (const done of [1, 2]) parts?.(done, 3);
    parts?.(3, 3, "scored");
    await progress.start(2);
    await progress.start(3);
    progress.end();
    expect(reported).to.deep.equal([
      [0, 5, "set up"],
      [0, 5, "set up: 1 of 2 steps"],
      [0, 5, "set up: 2 of 2 steps"],
      [1, 5, "re-training"],
      [2, 5, "re-training: 1 of 3 runs"],
      [3, 5, "re-training: 2 of 3 runs"],
      [4, 5, "re-training: scored"],
      [4, 5, "summary"],
      [5, 5, undefined],
    ]);
  });

  it("reports nothing without a callback, and gives no callback to a stage's parts", async () => {
    const progress = stagedProgress(undefined, [{ name: "only", units: 2 }]);
    await progress.start(0);
    expect(progress.within(0, "runs")).to.equal(undefined);
    expect(progress.steps(0, "steps")).to.equal(undefined);
    progress.end();
  });
});
