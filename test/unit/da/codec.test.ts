import { expect } from "chai";
import { blobLengthForPayload, decodePayload, encodePayload } from "../../../lib/da/codec.js";
import { DAError } from "../../../lib/da/errors.js";
import { rng } from "../../../lib/random.js";
import { expectCode } from "../expect-code.js";

function bytes(n: number, seed = 1): Uint8Array {
  const r = rng(seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = r.int(256);
  return out;
}

describe("EigenDA payload codec (encoding version 0x0)", () => {
  it("encodes 'hello' as the data-structs spec's example", () => {
    const enc = encodePayload(new TextEncoder().encode("hello"));
    expect(enc.length).to.equal(64);
    expect([...enc.subarray(0, 8)]).to.deep.equal([0, 0, 0, 0, 0, 5, 0, 0]);
    expect([...enc.subarray(32, 38)]).to.deep.equal([0, ..."hello"].map((c) => (typeof c === "number" ? c : c.charCodeAt(0))));
    expect(enc.subarray(38).every((b) => b === 0)).to.equal(true);
  });

  it("round-trips payloads at sizes around each power-of-two blob boundary", () => {
    // A blob of 2^k field elements holds (2^k - 1) * 31 payload bytes.
    for (let k = 1; k <= 12; k++) {
      const capacity = (2 ** k - 1) * 31;
      for (const n of [capacity - 1, capacity, capacity + 1]) {
        if (n < 0) continue;
        const p = bytes(n, n);
        const enc = encodePayload(p);
        expect(enc.length / 32, `payload ${n}`).to.equal(blobLengthForPayload(n));
        expect(enc.length / 32).to.equal(n <= capacity ? 2 ** k : 2 ** (k + 1));
        for (let w = 0; w < enc.length; w += 32) expect(enc[w]).to.equal(0);
        expect(decodePayload(enc)).to.deep.equal(p);
      }
    }
    expect(decodePayload(encodePayload(new Uint8Array(0)))).to.deep.equal(new Uint8Array(0));
  });

  it("refuses a bad header, an unknown version, a non-power-of-two size and a length past the data", () => {
    const enc = encodePayload(bytes(100));
    const bad = enc.slice();
    bad[0] = 1;
    expect(expectCode(() => decodePayload(bad), DAError, "da/payload-bad-header").fields).to.deep.equal({ byte: 1 });
    const v = enc.slice();
    v[1] = 7;
    expect(expectCode(() => decodePayload(v), DAError, "da/payload-unknown-version").fields).to.deep.equal({ version: 7 });
    expect(expectCode(() => decodePayload(enc.subarray(0, 96)), DAError, "da/payload-not-power-of-two").fields).to.deep.equal({ symbols: 3 });
    expect(expectCode(() => decodePayload(enc.subarray(0, 100)), DAError, "da/payload-bad-size").fields).to.deep.equal({ length: 100 });
    const long = enc.slice();
    new DataView(long.buffer).setUint32(2, 7 * 31 + 1, false);
    expect(expectCode(() => decodePayload(long), DAError, "da/payload-length-past-data").fields).to.deep.equal({ claimed: 218, capacity: 217 });
    const sym = enc.slice();
    sym[64] = 0x30;
    expect(expectCode(() => decodePayload(sym), DAError, "da/payload-bad-symbol").fields).to.deep.equal({ symbol: 2 });
  });
});
