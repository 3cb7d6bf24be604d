import { expect } from "chai";
import { rng } from "../../../lib/random.js";

describe("rng (seeded random numbers)", () => {
  it("gives the same sequence for the same seed and a different one for another seed", () => {
    const draw = (seed: number) => {
      const r = rng(seed);
      return Array.from({ length: 8 }, () => r.next());
    };
    expect(draw(42)).to.deep.equal(draw(42));
    expect(draw(42)).to.not.deep.equal(draw(43));
  });

  it("draws uniforms in [0, 1) with mean 1/2 and normals with mean 0 and variance 1", () => {
    const r = rng(7);
    const n = 20000;
    const u = Array.from({ length: n }, () => r.next());
    expect(Math.min(...u)).to.be.at.least(0);
    expect(Math.max(...u)).to.be.below(1);
    expect(u.reduce((a, b) => a + b) / n).to.be.closeTo(0.5, 0.01);
    const z = Array.from({ length: n }, () => r.normal());
    const mean = z.reduce((a, b) => a + b) / n;
    const variance = z.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
    expect(mean).to.be.closeTo(0, 0.03);
    expect(variance).to.be.closeTo(1, 0.04);
  });

  it("forks independent streams that do not depend on draws made from the parent", () => {
    const a = rng(5);
    const b = rng(5);
    b.next();
    b.next();
    expect(a.fork("x").next()).to.equal(b.fork("x").next());
    expect(rng(5).fork("x").next()).to.not.equal(rng(5).fork("y").next());
  });

  it("shuffles to a permutation and int(n) stays in range", () => {
    const r = rng(3);
    const items = Array.from({ length: 50 }, (_, i) => i);
    const shuffled = r.shuffle([...items]);
    expect(shuffled).to.not.deep.equal(items);
    expect([...shuffled].sort((x, y) => x - y)).to.deep.equal(items);
    for (let i = 0; i < 1000; i++) expect(r.int(7)).to.be.within(0, 6);
    expect(() => r.int(0)).to.throw(RangeError);
  });
});
