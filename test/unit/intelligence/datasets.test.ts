import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { expect } from "chai";
import { sha256Hex } from "../../../lib/files.js";
import { IntelligenceError } from "../../../lib/intelligence/errors.js";
import {
  BASE_MODELS,
  baseModel,
  buildDatanet,
  charTokenizer,
  countParams,
  DatasetError,
  DEFAULT_FLIP,
  exampleDatanetPlan,
  FASHION_MNIST,
  FORTUNES,
  FORTUNES_DE,
  FORTUNES_ES,
  FORTUNES_MIN,
  gptConfig,
  loadFashionMnist,
  loadFortuneSet,
  loadFortunes,
  merkleTreeOf,
  parseIdx,
  pretrainBase,
  readVerified,
  resolveBaseModel,
  sampleHash,
  verifyManifest,
} from "../../../lib/intelligence/index.js";
import { initTf, onHardwareGpu } from "../../../lib/tf/index.js";
import { expectCode } from "../expect-code.js";

describe("data sets", () => {
  it("loads Fashion-MNIST test split from the Debian package after checking hashes", () => {
    const set = loadFashionMnist("test");
    expect([set.n, set.rows, set.cols]).to.deep.equal([10000, 28, 28]);
    expect(set.x.length).to.equal(10000 * 784);
    // the first test images of Fashion-MNIST are an ankle boot, a pullover and a trouser
    expect(Array.from(set.y.subarray(0, 3))).to.deep.equal([9, 2, 1]);
    const counts = new Array(10).fill(0);
    for (const c of set.y) counts[c]++;
    expect(counts).to.deep.equal(new Array(10).fill(1000));
  });

  it("refuses a missing file, naming the package to install", () => {
    const dir = mkdtempSync(join(tmpdir(), "fm-"));
    expectCode(() => readVerified(FASHION_MNIST, "testLabels", dir), DatasetError, "dataset/missing-file", { dataset: FASHION_MNIST.name, aptPackage: "dataset-fashion-mnist" });
  });

  it("refuses an altered file, naming both hashes", () => {
    const dir = mkdtempSync(join(tmpdir(), "fm-"));
    const file = FASHION_MNIST.files.testLabels.file;
    copyFileSync(join(FASHION_MNIST.defaultDir, file), join(dir, file));
    expect(readVerified(FASHION_MNIST, "testLabels", dir).length).to.equal(5125);
    const bytes = readFileSync(join(dir, file));
    bytes[100] ^= 1;
    writeFileSync(join(dir, file), bytes);
    expectCode(() => readVerified(FASHION_MNIST, "testLabels", dir), DatasetError, "dataset/hash-mismatch", { expected: FASHION_MNIST.files.testLabels.sha256 });
  });

  it("parses IDX headers and rejects inconsistent ones", () => {
    const ok = Uint8Array.from([0, 0, 8, 1, 0, 0, 0, 2, 7, 9]);
    expect(parseIdx(ok, "t").dims).to.deep.equal([2]);
    expectCode(() => parseIdx(ok.subarray(0, 9), "t"), DatasetError, "dataset/idx-size-mismatch", { file: "t", declared: 2, held: 1 });
  });

  it("reads the fortunes-min corpus as documents with their source file", () => {
    const corpus = loadFortunes();
    expect(corpus.documents.length).to.be.greaterThan(300);
    expect(new Set(corpus.sources)).to.deep.equal(new Set(Object.keys(FORTUNES_MIN.files)));
    expect(corpus.text).to.not.include("\b");
    const tok = charTokenizer(corpus.text);
    const s = corpus.documents[0];
    expect(tok.decode(tok.encode(s))).to.equal(s);
  });
});

describe("the larger fortune collections (fortunes, fortunes-de, fortunes-es)", () => {
  // one small file of each set, for the altered-file case
  const cases = [
    { source: FORTUNES, file: "pratchett", files: 40, documents: 14000, sample: "Rincewind" },
    { source: FORTUNES_DE, file: "plaetzchen", files: 49, documents: 18000, sample: "daß" },
    { source: FORTUNES_ES, file: "lao-tse.fortunes", files: 24, documents: 10000, sample: "más" },
  ];

  for (const { source, file, files, documents, sample } of cases) {
    it(`${source.name}: reads every file after checking its hash, as UTF-8 documents with their source file`, () => {
      expect(Object.keys(source.files)).to.have.length(files);
      const corpus = loadFortuneSet(source);
      expect(corpus.documents.length).to.be.greaterThan(documents);
      expect(new Set(corpus.sources)).to.deep.equal(new Set(Object.keys(source.files)));
      expect(corpus.text).to.include(sample);
      expect(corpus.documents.some((d) => d.includes("\n%\n") || d.includes("\b"))).to.equal(false);
    });

    it(`${source.name}: refuses a missing file, naming the package to install`, () => {
      const dir = mkdtempSync(join(tmpdir(), "fortunes-"));
      expectCode(() => loadFortuneSet(source, { dir }), DatasetError, "dataset/missing-file", { dataset: source.name, aptPackage: source.aptPackage });
    });

    it(`${source.name}: refuses an altered file, naming both hashes`, () => {
      const dir = mkdtempSync(join(tmpdir(), "fortunes-"));
      copyFileSync(join(source.defaultDir, file), join(dir, file));
      expect(readVerified(source, file, dir).length).to.be.greaterThan(0);
      const bytes = readFileSync(join(dir, file));
      bytes[10] ^= 1;
      writeFileSync(join(dir, file), bytes);
      expectCode(() => readVerified(source, file, dir), DatasetError, "dataset/hash-mismatch", { dataset: source.name, expected: source.files[file].sha256, actual: sha256Hex(bytes) });
    });
  }

  it("are installed by the set-up: each package is a line of datasets/apt-packages.txt, and each file's hash is the one datasets/README.md records", () => {
    const packages = readFileSync(join(process.cwd(), "datasets", "apt-packages.txt"), "utf8")
      .split("\n")
      .filter((l) => l.trim() && !l.startsWith("#"));
    const readme = readFileSync(join(process.cwd(), "datasets", "README.md"), "utf8");
    for (const source of [FORTUNES_MIN, FORTUNES, FORTUNES_DE, FORTUNES_ES]) {
      expect(packages).to.include(source.aptPackage);
      for (const spec of Object.values(source.files)) expect(readme).to.include(`| ${spec.file} | `).and.include(spec.sha256);
    }
  });
});

describe("datanets", () => {
  const plan = exampleDatanetPlan("fmnist-test", { scale: 0.1, shift: "low-contrast" });
  const d = buildDatanet(plan);

  it("splits a data set among contributors with non-iid mixes, duplicates and flipped labels", () => {
    expect(d.contributors.map((c) => c.kind)).to.deep.equal(["iid", "non-iid", "non-iid", "iid", "duplicate", "label-flip"]);
    expect(new Set(d.contributors.map((c) => c.address)).size).to.equal(6);
    const of = (name: string) => Array.from({ length: d.n }, (_, i) => i).filter((i) => d.contributors[d.contributorOf[i]].name === name);
    // footwear-only contributor: classes 5, 7, 9
    expect(new Set(of("cobbler").map((i) => d.yTrue[i]))).to.satisfy((s: Set<number>) => [...s].every((c) => [5, 7, 9].includes(c)));
    // duplicator re-submits exact copies of atelier's samples
    const atelier = new Set(of("atelier").map((i) => d.sampleHashes[i]));
    expect(of("echo").every((i) => atelier.has(d.sampleHashes[i]))).to.equal(true);
    // flipper's labels are the flip map of the true labels
    expect(of("flipper").every((i) => d.y[i] === DEFAULT_FLIP[d.yTrue[i]] && d.y[i] !== d.yTrue[i])).to.equal(true);
    expect(of("atelier").every((i) => d.y[i] === d.yTrue[i])).to.equal(true);
  });

  it("commits every sample in a Merkle tree whose proofs verify, and is rebuilt identically from its seed", () => {
    verifyManifest(d);
    const tree = merkleTreeOf(d.manifest);
    const i = 17;
    const leaf: [number, string, string] = [i, d.contributors[d.contributorOf[i]].address, d.sampleHashes[i]];
    expect(StandardMerkleTree.verify(d.manifest.merkleRoot, ["uint256", "address", "bytes32"], leaf, tree.getProof(i))).to.equal(true);
    expect(
      StandardMerkleTree.verify(
        d.manifest.merkleRoot,
        ["uint256", "address", "bytes32"],
        [i, d.contributors[0].address === leaf[1] ? d.contributors[1].address : d.contributors[0].address, leaf[2]],
        tree.getProof(i),
      ),
    ).to.equal(false);
    expect(buildDatanet(plan).id).to.equal(d.id);
    expect(buildDatanet({ ...plan, seed: plan.seed + 1 }).id).to.not.equal(d.id);
  });

  it("detects altered data against the manifest", () => {
    const px = new Uint8Array(784);
    for (let k = 0; k < 784; k++) px[k] = Math.round(d.x[k] * 255);
    expect(sampleHash(px, d.y[0])).to.equal(d.sampleHashes[0]);
    const tampered = { ...d, y: Int32Array.from(d.y) };
    tampered.y[0] = (tampered.y[0] + 1) % 10;
    expectCode(() => verifyManifest(tampered), IntelligenceError, "datanet/sample-hash-mismatch", { sample: 0 });
  });
});

describe("base model pretraining", () => {
  it("reproduces the same checkpoint bytes from the same seed, and others from another seed", async () => {
    const { tf } = await initTf({ quiet: true });
    const dir = mkdtempSync(join(tmpdir(), "base-"));
    const a = await pretrainBase(tf, "fmnist-mlp", { mode: "quick", seed: 3, steps: 4, dir: join(dir, "a") });
    const b = await pretrainBase(tf, "fmnist-mlp", { mode: "quick", seed: 3, steps: 4, dir: join(dir, "b") });
    const c = await pretrainBase(tf, "fmnist-mlp", { mode: "quick", seed: 4, steps: 4, dir: join(dir, "c") });
    expect(a.sha256).to.equal(b.sha256);
    expect(readFileSync(join(dir, "a", "model.safetensors")).equals(readFileSync(join(dir, "b", "model.safetensors")))).to.equal(true);
    expect(c.sha256).to.not.equal(a.sha256);
    expect((a.recipe as { steps: number }).steps).to.equal(4);
    // a second pretraining into a folder holding a checkpoint keeps the one in place
    const again = await pretrainBase(tf, "fmnist-mlp", { mode: "quick", seed: 4, steps: 4, dir: join(dir, "a") });
    expect(again.sha256).to.equal(a.sha256);
    // a folder without weights is no checkpoint: it is replaced
    mkdirSync(join(dir, "broken"));
    writeFileSync(join(dir, "broken", "config.json"), "{}");
    const repaired = await pretrainBase(tf, "fmnist-mlp", { mode: "quick", seed: 3, steps: 4, dir: join(dir, "broken") });
    expect(repaired.sha256).to.equal(a.sha256);
    expect(readdirSync(join(dir, "broken")).sort()).to.deep.equal(["config.json", "model.safetensors"]);
  });
});

describe("the GPU preset of the language model", () => {
  it("is nanoGPT's shakespeare-char size and is what fortunes-gpt's full mode means on a hardware GPU only", async () => {
    expect(gptConfig("fortunes-gpt-large")).to.include({ nLayer: 6, nHead: 6, nEmbd: 384, blockSize: 256 });
    expect(BASE_MODELS["fortunes-gpt-large"].kind).to.equal("gpt");
    expect(resolveBaseModel("fortunes-gpt", "full", true)).to.equal("fortunes-gpt-large");
    expect(resolveBaseModel("fortunes-gpt", "quick", true)).to.equal("fortunes-gpt");
    expect(resolveBaseModel("fortunes-gpt", "full", false)).to.equal("fortunes-gpt");
    expect(resolveBaseModel("fmnist-mlp", "full", true)).to.equal("fmnist-mlp");
    expect(onHardwareGpu({ backend: "webgpu", adapter: { software: true } as never })).to.equal(false);
    expect(onHardwareGpu({ backend: "webgpu", adapter: { software: false } as never })).to.equal(true);
    expect(onHardwareGpu({ backend: "tfjs-node-gpu" })).to.equal(true);
    expect(onHardwareGpu({ backend: "wasm" })).to.equal(false);
  });

  it("has about 10.8 M parameters; a GPT pretrains step by step, reporting each step's loss and recording the last", async function () {
    this.timeout(300_000);
    const { tf } = await initTf({ quiet: true });
    const large = baseModel(tf, "fortunes-gpt-large");
    const weights = large.init(1);
    expect(countParams(weights)).to.be.within(10.5e6, 11e6);
    for (const t of Object.values(weights)) t.dispose();
    const dir = mkdtempSync(join(tmpdir(), "base-"));
    const reported: Array<[number, number]> = [];
    const a = await pretrainBase(tf, "fortunes-gpt", { mode: "quick", seed: 3, steps: 3, dir: join(dir, "a"), onStep: (step, loss) => reported.push([step, loss]) });
    expect(reported.map(([step]) => step)).to.deep.equal([0, 1, 2]);
    expect(reported.every(([, loss]) => Number.isFinite(loss))).to.equal(true);
    expect((a.recipe as { final_loss: number }).final_loss).to.equal(reported[2][1]);
  });
});
