import { expect } from "chai";
import { charTokenizer } from "../../../lib/intelligence/datasets/text-corpus.js";
import { BatchedEngine, completionsClient, ensureAdapters, type RunningServer, Scheduler, servingLayers, startServer, tokenHash } from "../../../lib/serving/index.js";
import { generatedAdapters, servingStack, tf, tinyBase } from "./fixtures.js";

/** LAB_OPENAI_BASE_URL: the notebooks' and the loop's completions sent to another OpenAI-compatible server. */
const base = await tinyBase();
const { root, dirs } = generatedAdapters(base.info, 2);
const tokenizer = charTokenizer("abcdefghijklm");

async function labServer(adapters: string[]): Promise<{ server: RunningServer; stack: ReturnType<typeof servingStack> }> {
  const stack = servingStack(base.info, adapters);
  const scheduler = new Scheduler({
    engine: new BatchedEngine(tf, base.model.config, base.weights, servingLayers(tf, base.weights, base.model.linearModules), stack.bank),
    cache: stack.cache,
    blockSize: 12,
    maxBatchSize: 8,
  });
  const server = await startServer({ scheduler, cache: stack.cache, tokenizer, backend: "wasm", baseModel: { name: "tiny", sha256: base.info.sha256 }, loadRoots: [root] });
  return { server, stack };
}

describe("OpenAI-compatible client (LAB_OPENAI_BASE_URL)", () => {
  const saved = process.env.LAB_OPENAI_BASE_URL;
  afterEach(() => {
    if (saved === undefined) delete process.env.LAB_OPENAI_BASE_URL;
    else process.env.LAB_OPENAI_BASE_URL = saved;
  });

  it("unset, completions go to the lab's server, which writes the receipts", async () => {
    delete process.env.LAB_OPENAI_BASE_URL;
    const own = await labServer(dirs);
    try {
      const client = completionsClient({ server: own.server, cache: own.stack.cache, tokenizer, baseSha256: base.info.sha256 });
      expect(client).to.deep.include({ baseUrl: `${own.server.url}/v1`, external: false });
      expect(await ensureAdapters(client.baseUrl, [{ name: "a0", path: dirs[0] }])).to.deep.equal([]);
      expect((await client.complete({ model: "a0", prompt: "abc", max_tokens: 3 })).status).to.equal(200);
      expect(own.server.receipts.pending()).to.have.length(1);
    } finally {
      await own.server.close();
    }
  });

  it("set, completions go to that server, the adapters are loaded there first, and the client writes the receipts", async () => {
    const own = await labServer(dirs);
    const other = await labServer([]); // serves the base only until the client loads the adapter
    try {
      process.env.LAB_OPENAI_BASE_URL = `${other.server.url}/v1/`;
      const client = completionsClient({ server: own.server, cache: own.stack.cache, tokenizer, baseSha256: base.info.sha256 });
      expect(client).to.deep.include({ baseUrl: `${other.server.url}/v1`, external: true });
      expect(await ensureAdapters(client.baseUrl, [{ name: "a1", path: dirs[1] }])).to.deep.equal(["a1"]);
      const res = await client.complete({ model: "a1", prompt: "abc", max_tokens: 4, temperature: 0 });
      expect(res.status).to.equal(200);
      const text = ((await res.json()) as { choices: Array<{ text: string }> }).choices[0].text;
      expect(other.server.receipts.pending()).to.have.length(1); // the other server's own
      const [receipt] = own.server.receipts.pending();
      expect(receipt).to.include({ tokensIn: 3, tokensOut: 4, outputHash: tokenHash(Array.from(tokenizer.encode(text))), adapterHash: `0x${own.stack.store.get("a1").sha256}` });
      expect(own.server.receipts.seal().receipts).to.have.length(1);
    } finally {
      await own.server.close();
      await other.server.close();
    }
  });
});
