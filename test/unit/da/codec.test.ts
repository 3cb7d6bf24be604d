import { expect } from "chai";
import { blobLengthForPayload, decodePayload, encodePayload } from "../../../lib/da/codec.js";
import { DAConfigError, DAEncodingError, DAError } from "../../../lib/da/errors.js";
import { fieldElementsToBytes } from "../../../lib/da/field.js";
import { blobToEncodedPayload, blobToPayload, DEFAULT_PAYLOAD_FORM, encodedPayloadToBlob, type PolynomialForm, payloadToBlob } from "../../../lib/da/polynomial-form.js";
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

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const unhex = (h: string) => new Uint8Array(Buffer.from(h, "hex"));
const zeros = (n: number) => "00".repeat(n);
/** An encoded payload written a 32-byte word at a time, as the upstream cases are. */
const words = (...w: string[]) => w.join("");

describe("EigenDA encoded payload (ported from api/clients/v2/coretypes encoded_payload_test.go)", () => {
  it("TestEncodeDecodePayload", () => {
    const cases: [string, string, string][] = [
      ["Empty Payload -> header-only (single FE) encodedPayload", "", zeros(32)],
      ["1 Byte Payload -> 2 FE EncodedPayload", "01", words(`0000000000010000000000000000000000000000000000000000000000000000`, `0001${zeros(30)}`)],
      ["2 Byte Payload -> 2 FE EncodedPayload", "0102", words(`0000000000020000000000000000000000000000000000000000000000000000`, `000102${zeros(29)}`)],
      [
        "31 Byte Payload -> 2 FE EncodedPayload",
        "01020304050607080910111213141516171819202122232425262728293031",
        words(`00000000001f${zeros(26)}`, "0001020304050607080910111213141516171819202122232425262728293031"),
      ],
      [
        "32 Byte Payload -> 4 FE EncodedPayload (EncodedPayload is always power of 2 FE)",
        "0102030405060708091011121314151617181920212223242526272829303132",
        words(`0000000000200000000000000000000000000000000000000000000000000000`, "0001020304050607080910111213141516171819202122232425262728293031", `0032${zeros(30)}`, zeros(32)),
      ],
    ];
    for (const [name, payloadHex, expected] of cases) {
      const encoded = encodePayload(unhex(payloadHex));
      expect(hex(encoded), name).to.equal(expected);
      expect(hex(decodePayload(encoded)), name).to.equal(payloadHex);
    }
  });

  it("TestDecodePayloadErrors", () => {
    const cases: [string, string, string, Record<string, unknown>][] = [
      ["Insufficient Length Doesn't Contain Header", "000000000000", "da/payload-bad-size", { length: 6 }],
      ["First byte must be 0x00", `01${zeros(31)}`, "da/payload-bad-header", { byte: 1 }],
      ["Only version 0x00 is supported", `0001${zeros(30)}`, "da/payload-unknown-version", { version: 1 }],
      ["Payload length must be a multiple of 32 bytes", `0000000000010000000000000000000000000000000000000000000000000000000100`, "da/payload-bad-size", { length: 35 }],
      [
        "wrong payload length: 32 bytes of data, but header says 64",
        `0000000000400000000000000000000000000000000000000000000000000000${zeros(32)}`,
        "da/payload-length-past-data",
        { claimed: 64, capacity: 31 },
      ],
      [
        "padding in encoded payload body must be 0x00",
        words(
          "0000000000200000000000000000000000000000000000000000000000000000",
          "0001020304050607080910111213141516171819202122232425262728293031",
          `0032${zeros(30)}`,
          "0000000000000000000000010000000000100000000000000000000000000111",
        ),
        "da/payload-body-padding",
        { offset: 72, length: 32 },
      ],
      [
        "padding in encoded payload header must be 0x00",
        words(`00000000001f0000000000000000000000000000000000000000000000332211`, "0001020304050607080910111213141516171819202122232425262728293031"),
        "da/payload-header-padding",
        { offset: 29 },
      ],
    ];
    for (const [name, encodedHex, code, fields] of cases) {
      const e = expectCode(() => decodePayload(unhex(encodedHex)), DAEncodingError, code, fields);
      expect(e.code, name).to.equal(code);
    }
  });

  it("refuses a non-zero byte in the padding past the payload inside its last word, and in a word past it", () => {
    const enc = encodePayload(new Uint8Array(40).fill(7)); // 4 words: header, 31 bytes, 9 bytes + 22 zero bytes, padding
    const inWord = enc.slice();
    inWord[64 + 1 + 9] = 1;
    expectCode(() => decodePayload(inWord), DAEncodingError, "da/payload-body-padding", { offset: 40, length: 40 });
    const pastWord = enc.slice();
    pastWord[96] = 1;
    expectCode(() => decodePayload(pastWord), DAEncodingError, "da/payload-bad-symbol", { symbol: 3 });
  });
});

describe("polynomial forms (EigenDA codecs.PolynomialForm; evaluation form the default)", () => {
  it("Example_payloadToBlobConversion: the evaluation-form blob is the inverse FFT of the encoded payload", () => {
    const payload = new Uint8Array(62);
    payload[0] = 1;
    payload[31] = 2;
    expect(hex(encodePayload(payload))).to.equal(
      "00000000003e0000000000000000000000000000000000000000000000000000000100000000000000000000000000000000000000000000000000000000000000020000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
    );
    expect(DEFAULT_PAYLOAD_FORM).to.equal("evaluation");
    expect(hex(fieldElementsToBytes(payloadToBlob(payload)))).to.equal(
      "0000c000000f80000000000000000000000000000000000000000000000000000b51701f1769982df83a9dbe76a1a7ac21abbab2ec7461a00b07d4200db2ec4900004000000f80000000000000000000000000000000000000000000000000002511de53c9e707fbc015a7f80adfb0b106882d958d450ef138da2173e24d13b8",
    );
    // In coefficient form the blob is the encoded payload itself.
    expect(hex(fieldElementsToBytes(payloadToBlob(payload, "coefficient")))).to.equal(hex(encodePayload(payload)));
  });

  it("round-trips payloads through either form, and a blob read in the other form is refused", () => {
    for (const n of [0, 1, 31, 62, 1000, 4000]) {
      const p = Uint8Array.from({ length: n }, (_, i) => (i * 37 + 11) & 0xff);
      for (const form of ["evaluation", "coefficient"] as PolynomialForm[]) {
        const blob = payloadToBlob(p, form);
        expect(hex(blobToEncodedPayload(blob, form))).to.equal(hex(encodePayload(p)));
        expect(hex(blobToPayload(blob, form)), `${n} bytes, ${form}`).to.equal(hex(p));
      }
      if (n > 0) {
        let refused = false;
        try {
          blobToPayload(payloadToBlob(p, "evaluation"), "coefficient");
        } catch (e) {
          refused = e instanceof DAEncodingError;
        }
        expect(refused, `${n} bytes read in the wrong form`).to.equal(true);
      }
    }
    expect(encodedPayloadToBlob(encodePayload(new Uint8Array(0)))).to.deep.equal([0n]);
    expectCode(() => payloadToBlob(new Uint8Array(1), "monomial" as PolynomialForm), DAConfigError, "da/unknown-polynomial-form", { form: "monomial" });
  });
});
