import { expect } from "chai";
import { fromPeftKey, isAdapterKey, loraAKey, loraBKey, loraKeys, PEFT_PREFIX, parseTensorKey, tensorKey, toPeftKey, weightKey } from "../../../lib/intelligence/models/peft-keys.js";

// Keys as PEFT's get_peft_model_state_dict and save_pretrained write them for a LoRA/DoRA model
// (state dict of a GPT-2-style block and an MLP; DoRA adds lora_magnitude_vector).
const PEFT_SPELLING = [
  "base_model.model.h.0.attn.q_proj.lora_A.weight",
  "base_model.model.h.0.attn.q_proj.lora_B.weight",
  "base_model.model.h.0.attn.q_proj.lora_magnitude_vector",
  "base_model.model.fc1.lora_A.weight",
];

describe("PEFT tensor keys: one module builds and parses them", () => {
  it("builds the keys PEFT writes, prefix included", () => {
    expect(loraKeys("h.0.attn.q_proj", true).map(toPeftKey)).to.deep.equal(PEFT_SPELLING.slice(0, 3));
    expect(toPeftKey(loraAKey("fc1"))).to.equal(PEFT_SPELLING[3]);
    expect(loraKeys("fc1", false)).to.deep.equal(["fc1.lora_A.weight", "fc1.lora_B.weight"]);
    expect([weightKey("fc1"), tensorKey("fc1", "bias")]).to.deep.equal(["fc1.weight", "fc1.bias"]);
    expect(PEFT_PREFIX).to.equal("base_model.model.");
  });

  it("parses every role back to its module, with or without the prefix", () => {
    for (const module of ["fc1", "h.0.attn.q_proj", "lm_head"]) {
      for (const role of ["weight", "bias", "lora_A", "lora_B", "lora_magnitude"] as const) {
        expect(parseTensorKey(tensorKey(module, role))).to.deep.equal({ module, role });
        expect(parseTensorKey(toPeftKey(tensorKey(module, role)))).to.deep.equal({ module, role });
      }
    }
    // the longest suffix wins: lora_A.weight is LoRA's A, not the weight of a module named "q.lora_A"
    expect(parseTensorKey("q.lora_A.weight")).to.deep.equal({ module: "q", role: "lora_A" });
    expect(parseTensorKey("wte")).to.equal(undefined);
    expect(parseTensorKey(".weight")).to.equal(undefined);
  });

  it("tells adapter tensors from the base model's, and strips only PEFT's prefix", () => {
    expect([loraAKey("fc1"), loraBKey("fc1"), "fc1.lora_magnitude_vector", weightKey("fc1"), "fc1.bias"].map(isAdapterKey)).to.deep.equal([true, true, true, false, false]);
    expect(fromPeftKey(PEFT_SPELLING[3]!)).to.equal("fc1.lora_A.weight");
    expect(fromPeftKey("model.fc1.lora_A.weight")).to.equal(undefined);
  });
});
