import { expect } from "chai";
import { initTf, readFloats, readScalar, readTensorMap } from "../../../lib/tf/index.js";

const { tf } = await initTf({ quiet: true });

describe("read-back: the one way a tensor leaves the device (lib/tf/read-back.ts)", () => {
  it("readFloats answers a copy the caller owns: writing to it leaves the tensor as it was", async () => {
    const t = tf.tensor1d([1.5, -2, 3]);
    const a = await readFloats(t);
    expect(Array.from(a)).to.deep.equal([1.5, -2, 3]);
    a[0] = 99;
    expect(Array.from(await readFloats(t))).to.deep.equal([1.5, -2, 3]);
    t.dispose();
  });

  it("readFloats gives an int32 tensor's values as float32; readScalar the single value", async () => {
    const ids = tf.tensor1d([7, 0, 3], "int32");
    const f = await readFloats(ids);
    expect(f).to.be.instanceOf(Float32Array);
    expect(Array.from(f)).to.deep.equal([7, 0, 3]);
    const s = tf.scalar(0.25);
    expect(await readScalar(s)).to.equal(0.25);
    tf.dispose([ids, s]);
  });

  it("readTensorMap keeps each tensor's key and shape, in key order", async () => {
    const m = { "b.weight": tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]), "a.bias": tf.tensor1d([9]) };
    const host = await readTensorMap(m);
    expect(Object.keys(host)).to.deep.equal(["b.weight", "a.bias"]);
    expect(host["b.weight"].shape).to.deep.equal([2, 3]);
    expect(Array.from(host["b.weight"].data)).to.deep.equal([1, 2, 3, 4, 5, 6]);
    expect(Array.from(host["a.bias"].data)).to.deep.equal([9]);
    tf.dispose(Object.values(m));
  });
});
