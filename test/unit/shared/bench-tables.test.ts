import { expect } from "chai";
import { awaitProduct } from "../../../lib/bench/bench-tables.js";
import { initTf } from "../../../lib/tf/index.js";

const { tf } = await initTf({ quiet: true });

describe("benchmark helpers (lib/bench/bench-tables.ts)", () => {
  it("awaitProduct waits for a product by its first value and leaves no tensor behind, whatever its rank", async () => {
    const before = tf.memory().numTensors;
    const a = tf.tensor2d([1, 2, 3, 4], [2, 2]);
    const batched = a.reshape([1, 2, 2]);
    for (const product of [tf.matMul(a, a), tf.matMul(batched, batched)]) {
      await awaitProduct(tf, product);
      expect(product.isDisposed, "the product is disposed").to.equal(true);
    }
    tf.dispose([a, batched]);
    expect(tf.memory().numTensors).to.equal(before);
  });
});
