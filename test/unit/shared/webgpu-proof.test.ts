import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { runCli } from "../../../lib/cli/dispatch.js";
import { latestRun, MESA_PACKAGES, webGpuProofSkipReason } from "../../../lib/runner/webgpu-proof.js";

describe("the WebGPU proof's plumbing (lib/runner/webgpu-proof.ts)", () => {
  it("is skipped only where Mesa's EGL or GL ES is missing, and then says which and what to install", () => {
    expect(webGpuProofSkipReason((soname) => `/usr/lib/x86_64-linux-gnu/${soname}`)).to.equal(undefined);
    const reason = webGpuProofSkipReason((soname) => (soname === "libEGL.so.1" ? undefined : `/usr/lib/${soname}`));
    expect(reason).to.include("libEGL.so.1").and.include(MESA_PACKAGES).and.not.include("libGLESv2");
  });

  describe("finding the wasm run to compare with", () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), "lab-proof-"));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    const COMMIT = "5b8df72e8dbed84d54f387d9fb6de5694c25c620";
    const land = (runId: string, notebook: string, tfBackend: string, parameters: Record<string, unknown>, commit = COMMIT) => {
      mkdirSync(join(dir, runId));
      writeFileSync(join(dir, runId, "manifest.json"), JSON.stringify({ runId, notebook, tfBackend, parameters, git: { commit, dirty: false } }));
    };

    it("takes the latest run of the notebook on wasm with exactly the same parameters, from the same commit", () => {
      const quick = { quick: true, seed: 42 };
      const wanted = { notebook: "03-model-factory-lora", backend: "wasm", parameters: { seed: 42, quick: true }, commit: COMMIT };
      land("20261206T100000Z-03-a", "03-model-factory-lora", "wasm", quick);
      land("20261206T110000Z-03-b", "03-model-factory-lora", "wasm", quick);
      land("20261206T120000Z-03-c", "03-model-factory-lora", "webgpu", quick);
      land("20261206T130000Z-03-d", "03-model-factory-lora", "wasm", { quick: true, seed: 7 });
      land("20261206T140000Z-03-e", "03-model-factory-lora", "wasm", quick, "e194cd0000000000000000000000000000000000");
      land("20261206T150000Z-04-f", "04-openlora-serving", "wasm", quick);
      mkdirSync(join(dir, ".staging"));
      expect(latestRun(dir, wanted)).to.equal(join(dir, "20261206T110000Z-03-b"));
      expect(latestRun(dir, { ...wanted, parameters: { quick: true, seed: 42, steps: 10 } })).to.equal(undefined);
      expect(latestRun(dir, { ...wanted, notebook: "05-proof-of-attribution" })).to.equal(undefined);
      expect(latestRun(dir, { ...wanted, commit: "0000000000000000000000000000000000000000" })).to.equal(undefined);
      expect(latestRun(join(dir, "absent"), wanted)).to.equal(undefined);
    });
  });

  it("./lab test refuses --webgpu with --skip-notebooks, and --fresh-cache without --webgpu, before anything runs (exit 2)", async () => {
    for (const args of [["--webgpu", "--skip-notebooks"], ["--fresh-cache"]]) {
      const log = console.error;
      let err = "";
      console.error = (...a: unknown[]) => {
        err += a.join(" ");
      };
      try {
        expect(await runCli(["test", ...args]), args.join(" ")).to.equal(2);
      } finally {
        console.error = log;
      }
      expect(err, args.join(" ")).to.include("cli/conflicting-options");
    }
  });
});
