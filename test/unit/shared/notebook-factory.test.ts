import { expect } from "chai";
import { validateSpec } from "../../../lib/intelligence/index.js";
import { drawFactory } from "../../../lib/notebook/factory.js";

/** Runs `fn` with console.error captured (the progress bar writes there when stderr is no terminal). */
function capturingStderr(fn: () => void): string[] {
  const lines: string[] = [];
  const error = console.error;
  console.error = (...parts: unknown[]) => {
    lines.push(parts.join(" "));
  };
  try {
    fn();
  } finally {
    console.error = error;
  }
  return lines;
}

describe("notebook: drawing a Factory run from its callbacks", () => {
  const spec = validateSpec({
    name: "draw",
    base_model: { name: "fmnist-mlp" },
    data: { datanets: ["fmnist-low-contrast"] },
    lora: { target_modules: ["fc1"] },
    training: { steps: 10, batch_size: 8 },
  });
  const evaluation = { step: 5, validation_loss: 0.5, validation_accuracy: 0.8, test_loss: 0.6, test_accuracy: 0.7 };

  it("draws a bar from a resumed run's start step, with the loss and last validation loss", function () {
    if (process.stderr.isTTY) this.skip(); // a terminal gets the live cli-progress bar instead of lines
    const lines = capturingStderr(() => {
      const drawing = drawFactory({ live: false });
      drawing.callbacks.onStart!({ spec, classifier: true, totalSteps: 10, startStep: 4, history: [{ step: 4, loss: 1, lr: 0.1 }], evals: [] });
      drawing.callbacks.onStep!({ step: 5, totalSteps: 10, loss: 0.75, lr: 0.1 });
      drawing.callbacks.onEvaluation!(evaluation);
      drawing.callbacks.onStep!({ step: 6, totalSteps: 10, loss: 0.5, lr: 0.1, lastEvaluation: evaluation });
      drawing.finish("done");
    });
    expect(lines[0]).to.match(/^factory draw \[#+\.*\] 4\/10 \(40%\)/);
    expect(lines.some((l) => l.includes("6/10") && l.includes("loss 0.5000 val 0.5000"))).to.equal(true);
    expect(lines[lines.length - 1]).to.match(/10\/10 \(100%\).*\| loss 0\.5000$/);
  });

  it("says a stopped run was interrupted, and draws nothing when quiet", function () {
    if (process.stderr.isTTY) this.skip();
    const stopped = capturingStderr(() => {
      const drawing = drawFactory({ live: false });
      drawing.callbacks.onStart!({ spec, classifier: true, totalSteps: 10, startStep: 0, history: [], evals: [] });
      drawing.finish("interrupted");
    });
    expect(stopped[stopped.length - 1]).to.match(/\| interrupted$/);
    const quiet = capturingStderr(() => {
      const drawing = drawFactory({ live: false, quiet: true });
      drawing.callbacks.onStart!({ spec, classifier: true, totalSteps: 10, startStep: 0, history: [], evals: [] });
      drawing.callbacks.onStep!({ step: 1, totalSteps: 10, loss: 1, lr: 0.1 });
      drawing.finish("done");
    });
    expect(quiet).to.deep.equal([]);
  });
});
