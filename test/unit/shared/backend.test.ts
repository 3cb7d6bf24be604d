import * as tf from "@tensorflow/tfjs";
import { expect } from "chai";
import { type BackendCandidate, type BackendChoice, BackendError, selectBackend } from "../../../lib/tf/backend.js";
import { registerWasmKernels, WASM_HEAP_MAX_BYTES, WASM_MAX_ALLOCATION_BYTES } from "../../../lib/tf/wasm-kernels.js";
import { expectCode, expectCodeAsync } from "../expect-code.js";

function fake(choice: BackendChoice, works: boolean, tried: BackendChoice[]): BackendCandidate {
  return {
    choice,
    async activate() {
      tried.push(choice);
      if (!works) return `${choice} unavailable`;
      await tf.setBackend("cpu");
      return undefined;
    },
  };
}

describe("TensorFlow.js backend selection", () => {
  it("tries tfjs-node-gpu, webgpu, tfjs-node, wasm, cpu in that order and takes the first that loads", async () => {
    const tried: BackendChoice[] = [];
    const rt = await selectBackend({
      override: "",
      candidates: [fake("cpu", true, tried), fake("wasm", true, tried), fake("tfjs-node", false, tried), fake("webgpu", false, tried), fake("tfjs-node-gpu", false, tried)],
    });
    expect(tried).to.deep.equal(["tfjs-node-gpu", "webgpu", "tfjs-node", "wasm"]);
    expect(rt.backend).to.equal("wasm");
    expect(rt.skipped.map((s) => s.choice)).to.deep.equal(["tfjs-node-gpu", "webgpu", "tfjs-node"]);
  });

  it("takes webgpu when its hardware adapter loads, in a notebook kernel as on the command line", async () => {
    const tried: BackendChoice[] = [];
    const candidates = (["tfjs-node-gpu", "webgpu", "tfjs-node", "wasm", "cpu"] as const).map((c) => fake(c, c !== "tfjs-node-gpu", tried));
    const kernel = process.env.LAB_KERNEL;
    process.env.LAB_KERNEL = "tslab";
    try {
      const rt = await selectBackend({ override: "", candidates });
      expect(rt.backend).to.equal("webgpu");
      expect(tried).to.deep.equal(["tfjs-node-gpu", "webgpu"]);
      expect(rt.skipped.map((s) => s.choice)).to.deep.equal(["tfjs-node-gpu"]);
    } finally {
      if (kernel === undefined) delete process.env.LAB_KERNEL;
      else process.env.LAB_KERNEL = kernel;
    }
  });

  it("falls back to cpu when nothing faster loads", async () => {
    const tried: BackendChoice[] = [];
    const rt = await selectBackend({ override: "", candidates: (["tfjs-node-gpu", "webgpu", "tfjs-node", "wasm", "cpu"] as const).map((c) => fake(c, c === "cpu", tried)) });
    expect(rt.backend).to.equal("cpu");
    expect(tried).to.deep.equal(["tfjs-node-gpu", "webgpu", "tfjs-node", "wasm", "cpu"]);
  });

  it("honours LAB_TF_BACKEND and fails clearly when the named backend cannot load", async () => {
    const tried: BackendChoice[] = [];
    const candidates = (["tfjs-node-gpu", "tfjs-node", "wasm", "cpu"] as const).map((c) => fake(c, c !== "tfjs-node-gpu", tried));
    expect((await selectBackend({ override: "cpu", candidates })).backend).to.equal("cpu");
    expect(tried).to.deep.equal(["cpu"]);
    await expectCodeAsync(selectBackend({ override: "gpu", candidates }), BackendError, "backend/unavailable", { backend: "tfjs-node-gpu", override: "gpu" });
    const unknown = await expectCodeAsync(selectBackend({ override: "tpu", candidates }), BackendError, "backend/unknown");
    expect(unknown.fields).to.deep.equal({ value: "tpu" });
  });

  it("with the real packages, picks the first that loads and names why each faster one was passed over", async () => {
    const rt = await selectBackend({ override: "" });
    const order = ["tfjs-node-gpu", "webgpu", "tfjs-node", "wasm", "cpu"];
    expect(rt.skipped.map((s) => s.choice)).to.deep.equal(order.slice(0, order.indexOf(rt.backend)));
    for (const s of rt.skipped) {
      if (s.choice === "webgpu") expect(s.code).to.match(/^webgpu\//);
      else expect(s.reason).to.match(/did not load|registered no native/);
    }
    if (rt.backend === "webgpu") expect(rt.adapter?.software).to.equal(false);
    expect(tf.getBackend()).to.equal(["wasm", "cpu", "webgpu"].includes(rt.backend) ? rt.backend : "tensorflow");
  });
});

describe("wasm kernels the backend lacks", () => {
  before(async () => {
    await import("@tensorflow/tfjs-backend-wasm");
    await tf.setBackend("wasm");
    registerWasmKernels(tf);
  });
  after(async () => {
    await tf.setBackend("cpu");
  });

  const onBoth = async <T>(fn: () => T): Promise<[T, T]> => {
    await tf.setBackend("wasm");
    const onWasm = fn();
    await tf.setBackend("cpu");
    const onCpu = fn();
    await tf.setBackend("wasm");
    return [onWasm, onCpu];
  };

  it("UnsortedSegmentSum makes the gradient of gather (embeddings) match the cpu backend", async () => {
    const table = [
      [1, 2],
      [3, 4],
      [5, 6],
      [7, 8],
    ];
    const [wasm, cpu] = await onBoth(() =>
      tf
        .grad((e: tf.Tensor) =>
          tf
            .gather(e, tf.tensor1d([3, 1, 3, 0], "int32"))
            .mul(
              tf.tensor2d([
                [1, 2],
                [3, 4],
                [5, 6],
                [7, 8],
              ]),
            )
            .sum(),
        )(tf.tensor2d(table))
        .arraySync(),
    );
    expect(wasm).to.deep.equal(cpu);
    expect(wasm).to.deep.equal([
      [7, 8],
      [3, 4],
      [0, 0],
      [6, 8],
    ]);
  });

  it("Conv2DBackpropFilter matches the cpu backend for strides and padding", async () => {
    for (const [stride, pad] of [
      [1, "same"],
      [2, "valid"],
      [2, "same"],
    ] as const) {
      const x = tf.randomNormal([2, 7, 6, 3], 0, 1, "float32", 1);
      const f = tf.randomNormal([3, 2, 3, 4], 0, 1, "float32", 2);
      const [wasm, cpu] = await onBoth(() =>
        tf
          .grad((w: tf.Tensor) =>
            tf
              .conv2d(x as tf.Tensor4D, w as tf.Tensor4D, stride, pad)
              .square()
              .sum(),
          )(f)
          .dataSync(),
      );
      const maxError = Math.max(...Array.from(wasm, (v, i) => Math.abs(v - cpu[i])));
      expect(maxError, `stride ${stride}, ${pad}`).to.be.below(1e-3);
    }
  });

  it("Identity shares its input's data, so a tensor the gradient keeps is not copied, and frees it with the last reference", async () => {
    const offsetOf = (t: tf.Tensor) => (tf.backend() as unknown as { getMemoryOffset(id: object): number }).getMemoryOffset(t.dataId);
    const x = tf.tensor1d([1, 2, 3]);
    const y = tf.clone(x);
    expect(offsetOf(y)).to.equal(offsetOf(x));
    x.dispose();
    expect(Array.from(y.dataSync())).to.deep.equal([1, 2, 3]);
    const before = tf.memory().numTensors;
    y.dispose();
    expect(tf.memory().numTensors).to.equal(before - 1);
    // the tensors the backward pass keeps (softmax saves its output) are the forward's values
    const weights = tf.tensor2d([
      [1, 0, 2],
      [3, 1, 0],
    ]);
    const logits = tf.tensor2d([
      [1, 2, 3],
      [0, -1, 4],
    ]);
    const [wasm, cpu] = await onBoth(() =>
      Array.from(
        tf
          .grad((l: tf.Tensor) => tf.softmax(l).mul(weights).sum())(logits)
          .dataSync(),
      ),
    );
    for (const [i, g] of wasm.entries()) expect(g).to.be.closeTo(cpu[i], 1e-6);
  });

  it("an allocation the heap cannot hold is refused as wasm/out-of-memory before anything is written, and the backend keeps working", () => {
    // 2 GiB of float32 in one tensor: unguarded, the allocator answers a pointer past the heap's end
    const bytes = 2 ** 31;
    const error = expectCode(() => tf.zeros([bytes / 4]), BackendError, "wasm/out-of-memory", { bytes, heapMaxBytes: WASM_HEAP_MAX_BYTES, allocationMaxBytes: WASM_MAX_ALLOCATION_BYTES });
    expect(error.hint).to.not.equal("");
    expect(Array.from(tf.add(tf.tensor1d([1, 2]), tf.tensor1d([3, 4])).dataSync())).to.deep.equal([4, 6]);
  });
});
