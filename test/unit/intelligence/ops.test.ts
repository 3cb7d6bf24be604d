import type { Tensor, Tensor2D } from "@tensorflow/tfjs";
import { expect } from "chai";
import { gelu, layerNorm, logSoftmax, softmax } from "../../../lib/intelligence/models/ops.js";
import { initTf } from "../../../lib/tf/index.js";

// initTf registers the wasm BatchMatMul that transposes operands explicitly (lib/tf/wasm-kernels.ts).
const { tf } = await initTf({ quiet: true });

/** Plain-JS product of [batch, m, k] and [batch, k, n] (row-major), the reference. */
function naive(a: Float32Array, b: Float32Array, batch: number, m: number, k: number, n: number): Float64Array {
  const out = new Float64Array(batch * m * n);
  for (let s = 0; s < batch; s++)
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let p = 0; p < k; p++) acc += a[s * m * k + i * k + p] * b[s * k * n + p * n + j];
        out[s * m * n + i * n + j] = acc;
      }
  return out;
}

function transposeLast(x: Float32Array, batch: number, r: number, c: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let s = 0; s < batch; s++) for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[s * r * c + j * r + i] = x[s * r * c + i * c + j];
  return out;
}

describe("model ops", () => {
  it(`matMul with transposeA/transposeB equals the plain-JS product, batched or not (backend ${tf.getBackend()})`, () => {
    const [batch, m, k, n] = [3, 5, 7, 4];
    const a = Float32Array.from({ length: batch * m * k }, (_, i) => Math.sin(i * 1.7));
    const b = Float32Array.from({ length: batch * k * n }, (_, i) => Math.cos(i * 0.9));
    const want = naive(a, b, batch, m, k, n);
    for (const ta of [false, true])
      for (const tb of [false, true]) {
        const A = tf.tensor3d(ta ? transposeLast(a, batch, m, k) : a, ta ? [batch, k, m] : [batch, m, k]);
        const B = tf.tensor3d(tb ? transposeLast(b, batch, k, n) : b, tb ? [batch, n, k] : [batch, k, n]);
        const got = tf.matMul(A, B, ta, tb);
        expect(got.shape).to.deep.equal([batch, m, n]);
        const g = got.dataSync();
        for (let i = 0; i < want.length; i++) expect(Math.abs(g[i] - want[i]), `ta=${ta} tb=${tb} at ${i}`).to.be.below(1e-5);
        // rank 2 (the linear layers' case)
        const got2 = tf.matMul(tf.slice(A, [0, 0, 0], [1, -1, -1]).squeeze([0]) as Tensor2D, tf.slice(B, [0, 0, 0], [1, -1, -1]).squeeze([0]) as Tensor2D, ta, tb).dataSync();
        for (let i = 0; i < m * n; i++) expect(Math.abs(got2[i] - want[i])).to.be.below(1e-5);
      }
  });

  it("GELU is GPT-2's tanh approximation", () => {
    const xs = [-4, -1.5, -0.3, 0, 0.2, 1, 2.5, 6];
    const got = gelu(tf, tf.tensor1d(xs)).dataSync();
    xs.forEach((x, i) => {
      const want = 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
      expect(Math.abs(got[i] - want)).to.be.below(1e-6);
    });
  });

  it("GELU's and layer norm's written-out gradients equal autodiff of their formulas", () => {
    const x = tf.randomNormal([3, 4, 6], 0, 2, "float32", 7);
    const gamma = tf.randomNormal([6], 1, 0.3, "float32", 8);
    const beta = tf.randomNormal([6], 0, 0.3, "float32", 9);
    const dy = tf.randomNormal([3, 4, 6], 0, 1, "float32", 10);
    const c = Math.sqrt(2 / Math.PI);
    const geluRef = (t: Tensor) => tf.mul(tf.mul(t, 0.5), tf.add(1, tf.tanh(tf.mul(tf.add(t, tf.mul(tf.pow(t, 3), 0.044715)), c))));
    const lnRef = (t: Tensor, g: Tensor, b: Tensor) => {
      const { mean, variance } = tf.moments(t, -1, true);
      return tf.add(tf.mul(tf.div(tf.sub(t, mean), tf.sqrt(tf.add(variance, 1e-5))), g), b);
    };
    const close = (a: Tensor, b: Tensor, tol: number) => {
      expect(a.shape).to.deep.equal(b.shape);
      const [p, q] = [a.dataSync(), b.dataSync()];
      for (let i = 0; i < p.length; i++) expect(Math.abs(p[i] - q[i]), `at ${i}`).to.be.below(tol * (1 + Math.abs(q[i])));
    };
    const [gx] = tf.grads((t: Tensor) => tf.sum(tf.mul(gelu(tf, t), dy)))([x]);
    const [rx] = tf.grads((t: Tensor) => tf.sum(tf.mul(geluRef(t), dy)))([x]);
    close(gelu(tf, x), geluRef(x), 1e-5);
    close(gx, rx, 1e-4);
    const w = { "ln.weight": gamma, "ln.bias": beta };
    const got = tf.grads((t: Tensor, g: Tensor, b: Tensor) => tf.sum(tf.mul(layerNorm(tf, { "ln.weight": g, "ln.bias": b }, "ln", t), dy)))([x, gamma, beta]);
    const want = tf.grads((t: Tensor, g: Tensor, b: Tensor) => tf.sum(tf.mul(lnRef(t, g, b), dy)))([x, gamma, beta]);
    close(layerNorm(tf, w, "ln", x), lnRef(x, gamma, beta), 1e-5);
    for (const [i, g] of got.entries()) close(g, want[i], 1e-4);
  });

  it("softmax, log-softmax, layer norm and GELU are differentiable twice: tf.grads of their tf.grads matches central differences of the gradient", () => {
    // TensorFlow.js's own softmax and log-softmax (and a custom gradient reusing the forward's
    // intermediates) drop every second-order term: the nested product would be far off, or zero
    const x = tf.randomNormal([3, 5], 0, 1.5, "float32", 11);
    const c = tf.randomNormal([3, 5], 0, 1, "float32", 12);
    const u = tf.randomNormal([3, 5], 0, 1, "float32", 13);
    const w = { "ln.weight": tf.randomNormal([5], 1, 0.3, "float32", 14), "ln.bias": tf.randomNormal([5], 0, 0.3, "float32", 15) };
    const ops: [string, (t: Tensor) => Tensor][] = [
      ["softmax", (t) => softmax(tf, t)],
      ["log-softmax", (t) => logSoftmax(tf, t)],
      ["layer norm", (t) => layerNorm(tf, w, "ln", t)],
      ["GELU", (t) => gelu(tf, t)],
    ];
    for (const [name, f] of ops) {
      const value = (t: Tensor) => tf.sum(tf.mul(f(t), c));
      const gradient = (t: Tensor) => tf.grads(value)([t])[0];
      const [exact] = tf.grads((t: Tensor) => tf.sum(tf.mul(gradient(t), u)))([x]);
      const eps = 1e-2;
      const fd = tf.div(tf.sub(gradient(tf.add(x, tf.mul(u, eps))), gradient(tf.sub(x, tf.mul(u, eps)))), 2 * eps);
      const [e, d] = [exact.dataSync(), fd.dataSync()];
      let diff = 0,
        size = 0;
      for (let i = 0; i < d.length; i++) {
        diff += (e[i] - d[i]) ** 2;
        size += d[i] ** 2;
      }
      expect(Math.sqrt(diff / size), name).to.be.below(1e-2);
    }
  });
});
