import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import {
  AdapterFormatError,
  createGpt,
  createMlp,
  decodeSafetensors,
  encodeSafetensors,
  initLora,
  loadAdapter,
  loraConfig,
  loraForwardOptions,
  readSafetensorsHeader,
  SafetensorsDecodingError,
  SafetensorsEncodingError,
  type SafetensorsHeaderEntry,
  saveAdapter,
} from "../../../lib/intelligence/index.js";
import { roleOf } from "../../../lib/intelligence/models/peft-keys.js";
import { initTf } from "../../../lib/tf/index.js";
import { expectCode } from "../expect-code.js";

const { tf } = await initTf({ quiet: true });
const tmp = () => mkdtempSync(join(tmpdir(), "peft-"));

describe("PEFT adapter files", () => {
  const model = createMlp(tf, { inputSize: 20, hidden: [16, 12], numClasses: 5 });
  const base = model.init(1);
  const x = tf.randomUniform([6, 20], 0, 1, "float32", 1);

  function trainedLikeAdapter(dora = false) {
    const adapter = initLora(model, base, loraConfig({ r: 4, loraAlpha: 8, loraDropout: 0.05, targetModules: ["fc1", "fc2"], useDora: dora, useRslora: true }), 7);
    for (const k of Object.keys(adapter.tensors)) if (roleOf(k) === "lora_B") adapter.tensors[k] = tf.randomNormal(adapter.tensors[k].shape, 0, 0.1, "float32", 3);
    return adapter;
  }

  it("writes a valid safetensors file: LE u64 header length, JSON header, PEFT key names and shapes, contiguous offsets", async () => {
    const dir = tmp();
    const saved = await saveAdapter(dir, trainedLikeAdapter(), { baseModelNameOrPath: "fmnist-mlp", taskType: null });
    const bytes = readFileSync(join(dir, "adapter_model.safetensors"));
    const n = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + n).toString("utf8"));
    expect((8 + n) % 8).to.equal(0);
    expect(header.__metadata__).to.deep.equal({ format: "pt" });
    expect(header["base_model.model.fc1.lora_A.weight"]).to.deep.include({ dtype: "F32", shape: [4, 20] });
    expect(header["base_model.model.fc1.lora_B.weight"]).to.deep.include({ dtype: "F32", shape: [16, 4] });
    expect(header["base_model.model.fc2.lora_A.weight"].shape).to.deep.equal([4, 16]);
    expect(header["base_model.model.fc2.lora_B.weight"].shape).to.deep.equal([12, 4]);
    const spans = Object.entries(header)
      .filter(([k]) => k !== "__metadata__")
      .map(([, e]) => (e as SafetensorsHeaderEntry).data_offsets)
      .sort((a: number[], b: number[]) => a[0] - b[0]);
    expect(spans[0][0]).to.equal(0);
    for (let i = 1; i < spans.length; i++) expect(spans[i][0]).to.equal(spans[i - 1][1]);
    expect(spans[spans.length - 1][1]).to.equal(bytes.length - 8 - n);
    const cfg = JSON.parse(readFileSync(join(dir, "adapter_config.json"), "utf8"));
    expect(cfg).to.deep.include({
      peft_type: "LORA",
      r: 4,
      lora_alpha: 8,
      lora_dropout: 0.05,
      bias: "none",
      use_rslora: true,
      use_dora: false,
      base_model_name_or_path: "fmnist-mlp",
      task_type: null,
    });
    expect(cfg.target_modules).to.deep.equal(["fc1", "fc2"]);
    expect(saved.sha256).to.match(/^[0-9a-f]{64}$/);
  });

  for (const dora of [false, true]) {
    it(`round-trips${dora ? " a DoRA adapter (lora_magnitude_vector)" : ""}: save, load, same outputs`, async () => {
      const dir = tmp();
      const adapter = trainedLikeAdapter(dora);
      await saveAdapter(dir, adapter, { baseModelNameOrPath: "fmnist-mlp", taskType: null });
      if (dora) expect(Object.keys(readSafetensorsHeader(readFileSync(join(dir, "adapter_model.safetensors"))).header)).to.include("base_model.model.fc1.lora_magnitude_vector");
      const loaded = loadAdapter(model, dir);
      expect(loaded.config).to.deep.equal(adapter.config);
      const y0 = model.forward({ ...base, ...adapter.tensors }, x, loraForwardOptions(adapter));
      const y1 = model.forward({ ...base, ...loaded.tensors }, x, loraForwardOptions(loaded));
      expect(Buffer.from(y0.dataSync().buffer).equals(Buffer.from(y1.dataSync().buffer))).to.equal(true);
    });
  }

  it("round-trips a transformer adapter on attention projections with task_type CAUSAL_LM", async () => {
    const gpt = createGpt(tf, { vocabSize: 9, blockSize: 6, nLayer: 1, nHead: 2, nEmbd: 8 });
    const gbase = gpt.init(2);
    const adapter = initLora(gpt, gbase, loraConfig({ r: 2, loraAlpha: 4, targetModules: ["q_proj", "v_proj"] }), 1);
    const dir = tmp();
    await saveAdapter(dir, adapter, { baseModelNameOrPath: "fortunes-gpt", taskType: "CAUSAL_LM" });
    const { header } = readSafetensorsHeader(readFileSync(join(dir, "adapter_model.safetensors")));
    expect(Object.keys(header).sort()).to.deep.equal([
      "base_model.model.h.0.attn.q_proj.lora_A.weight",
      "base_model.model.h.0.attn.q_proj.lora_B.weight",
      "base_model.model.h.0.attn.v_proj.lora_A.weight",
      "base_model.model.h.0.attn.v_proj.lora_B.weight",
    ]);
    expect(loadAdapter(gpt, dir).peftConfig.task_type).to.equal("CAUSAL_LM");
  });

  it("refuses truncated, overlapping or wrong-shaped files", async () => {
    const good = encodeSafetensors({ a: { shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) } });
    expect(decodeSafetensors(good).tensors.a.data).to.deep.equal(new Float32Array([1, 2, 3, 4]));
    expectCode(() => decodeSafetensors(good.subarray(0, good.length - 4)), SafetensorsDecodingError, "safetensors/offsets-outside-buffer", { tensor: "a", end: 16, buffer: 12 });
    const huge = Uint8Array.from(good);
    new DataView(huge.buffer).setBigUint64(0, 1n << 40n, true);
    expectCode(() => decodeSafetensors(huge), SafetensorsDecodingError, "safetensors/header-too-long", { headerLength: 1n << 40n });
    expectCode(() => encodeSafetensors({ a: { shape: [2, 3], data: new Float32Array(4) } }), SafetensorsEncodingError, "safetensors/encode-shape-mismatch", { tensor: "a", values: 4 });
    const dir = tmp();
    await saveAdapter(dir, trainedLikeAdapter(), { baseModelNameOrPath: "x", taskType: null });
    const other = createMlp(tf, { inputSize: 21, hidden: [16, 12], numClasses: 5 });
    expectCode(() => loadAdapter(other, dir), AdapterFormatError, "peft/shape-mismatch");
    writeFileSync(join(dir, "adapter_model.safetensors"), Buffer.from("not a safetensors file"));
    expect(() => loadAdapter(model, dir)).to.throw(AdapterFormatError);
  });
});
