import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { parse as parseYaml } from "yaml";
import { LabError } from "../errors.js";
import { fromRoot, sha256Hex } from "../files.js";
import { DATANET_CATALOG } from "../intelligence/factory/catalog.js";
import { fortunesTokenizer, pretrainTokenIds } from "../intelligence/models/zoo.js";

/**
 * `./lab gpu-bundle`: one folder that checks the WebGPU route on a bare Linux x86-64 NVIDIA
 * machine with no network. It holds the project's Node (gzip), the check bundled into one script
 * (tfjs, the wasm and WebGPU backends, the lab's training code), Dawn's dawn.node (gzip), the
 * wasm backend's binaries, Debian's libvulkan1 package, the check's data, and run.sh.
 */
export class GpuBundleError extends LabError {}

/** The folder must fit the transfer limit of the machines it is carried to. */
export const BUNDLE_LIMIT_BYTES = 60 * 2 ** 20;

export interface BundleOptions {
  outDir: string;
  /** The Node binary to ship (the project's Node: the one running this). */
  nodeBinary?: string;
  log?: (line: string) => void;
}

export interface BundleResult {
  outDir: string;
  bytes: number;
  files: Array<{ path: string; bytes: number; sha256: string }>;
}

const MLP_EXAMPLES = 4096;

function gz(data: Uint8Array): Buffer {
  return gzipSync(data, { level: 9 });
}

/** The check's data: the example specs, and the Factory datanets' examples in compact form. */
export function writeCheckData(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const specs: Record<string, unknown> = {};
  for (const name of ["fmnist-lora", "fmnist-full", "fortunes-lora", "fortunes-full"]) {
    specs[name] = parseYaml(readFileSync(fromRoot("experiments", "factory", `${name}.yaml`), "utf8"));
  }
  const images = DATANET_CATALOG["fmnist-low-contrast"].build(1);
  const n = Math.min(MLP_EXAMPLES, images.n);
  // pixels as bytes: both backends of the check read the same values, which is all it compares
  const pixels = Uint8Array.from(images.x.subarray(0, n * 784), (v) => Math.round(v * 255));
  writeFileSync(join(dir, "fmnist-x.u8.gz"), gz(pixels));
  writeFileSync(join(dir, "fmnist-y.u8.gz"), gz(Uint8Array.from(images.y.subarray(0, n))));
  const text = DATANET_CATALOG["fortunes-literature"].build(1);
  const u16 = (a: Int32Array) => new Uint8Array(Uint16Array.from(a).buffer);
  writeFileSync(join(dir, "literature-x.u16.gz"), gz(u16(text.x as Int32Array)));
  writeFileSync(join(dir, "literature-y.u16.gz"), gz(u16(text.y)));
  writeFileSync(join(dir, "pretrain-ids.u16.gz"), gz(u16(pretrainTokenIds())));
  const vocabSize = fortunesTokenizer().vocab.length;
  if (vocabSize > 65535)
    throw new GpuBundleError({ code: "gpu-bundle/vocabulary", message: `a vocabulary of ${vocabSize} does not fit 16-bit ids`, hint: "store ids as 32-bit", fields: { vocabSize } });
  writeFileSync(
    join(dir, "data.json"),
    `${JSON.stringify(
      {
        vocabSize,
        specs,
        mlp: { n, features: 784, file: "fmnist-x.u8.gz", labels: "fmnist-y.u8.gz" },
        literature: { n: text.n, blockSize: text.xShape[0], x: "literature-x.u16.gz", y: "literature-y.u16.gz" },
        pretrain: { ids: "pretrain-ids.u16.gz" },
      },
      null,
      2,
    )}\n`,
  );
}

/** esbuild (it ships with tsx) bundles the check with tfjs and its backends into one ES module. */
async function bundleScript(outFile: string): Promise<void> {
  let esbuild: typeof import("esbuild");
  try {
    esbuild = await import("esbuild");
  } catch (error) {
    throw new GpuBundleError({
      code: "gpu-bundle/no-esbuild",
      message: `esbuild did not load (${(error as Error).message.split("\n")[0]})`,
      hint: "run ./lab setup (npm ci installs tsx, which ships esbuild)",
      fields: {},
    });
  }
  await esbuild.build({
    entryPoints: [fromRoot("lib", "gpu-bundle", "entry.ts")],
    outfile: outFile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node22",
    minify: true,
    legalComments: "none",
    logLevel: "error",
    // dawn.node is loaded by the webgpu package from its own folder, shipped beside the script;
    // the native TensorFlow bindings are not shipped (the check compares webgpu with wasm)
    external: ["webgpu", "@tensorflow/tfjs-node", "@tensorflow/tfjs-node-gpu"],
    // CommonJS dependencies inside an ES module need require, __dirname and __filename
    banner: {
      js: 'import { createRequire as __labRequire } from "node:module"; import { fileURLToPath as __labPath } from "node:url"; import { dirname as __labDir } from "node:path"; const require = __labRequire(import.meta.url); const __filename = __labPath(import.meta.url); const __dirname = __labDir(__filename);',
    },
  });
}

/** Debian's libvulkan1 (the Vulkan loader), downloaded by apt, and the library unpacked from it. */
function vulkanLoader(dir: string, log: (line: string) => void): void {
  try {
    execFileSync("apt-get", ["download", "libvulkan1"], { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  } catch (error) {
    const cached = existsSync("/var/cache/apt/archives") ? readdirSync("/var/cache/apt/archives").find((f) => /^libvulkan1_.*_amd64\.deb$/.test(f)) : undefined;
    if (!cached) {
      throw new GpuBundleError({
        code: "gpu-bundle/no-vulkan-deb",
        message: `apt-get download libvulkan1 failed (${String((error as { stderr?: Buffer }).stderr ?? error)
          .trim()
          .split("\n")
          .pop()})`,
        hint: "run on Debian or Ubuntu x86-64 with its package lists (apt-get update), or put libvulkan1_*_amd64.deb in /var/cache/apt/archives",
        fields: {},
      });
    }
    copyFileSync(join("/var/cache/apt/archives", cached), join(dir, cached));
  }
  const deb = readdirSync(dir).find((f) => /^libvulkan1_.*\.deb$/.test(f))!;
  log(`Vulkan loader: ${deb}`);
  // unpacked here too, for target machines without dpkg-deb
  const scratch = mkdtempSync(join(tmpdir(), "lab-vulkan-"));
  try {
    execFileSync("dpkg-deb", ["-x", join(dir, deb), scratch]);
    const lib = join(scratch, "usr", "lib", "x86_64-linux-gnu", "libvulkan.so.1");
    mkdirSync(join(dir, "vulkan"), { recursive: true });
    copyFileSync(realpathSync(lib), join(dir, "vulkan", "libvulkan.so.1"));
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function listFiles(dir: string, prefix = ""): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((f) => (statSync(join(dir, f)).isDirectory() ? listFiles(join(dir, f), `${prefix}${f}/`) : [`${prefix}${f}`]));
}

/** Writes the bundle into options.outDir (replacing it only once complete) and returns its files. */
export async function buildGpuBundle(options: BundleOptions): Promise<BundleResult> {
  const log = options.log ?? (() => {});
  const node = options.nodeBinary ?? process.execPath;
  const [major] = process.versions.node.split(".").map(Number);
  if (major < 22)
    throw new GpuBundleError({
      code: "gpu-bundle/old-node",
      message: `Node ${process.versions.node} is older than the lab's 22.13`,
      hint: "run through ./lab, which brings Node 24",
      fields: { node: process.versions.node },
    });
  const dawn = fromRoot("node_modules", "webgpu", "dist", "linux-x64", "dawn.node");
  if (!existsSync(dawn))
    throw new GpuBundleError({ code: "gpu-bundle/no-dawn", message: `no ${dawn}`, hint: "npm ci installs the optional dependency webgpu (it ships dawn.node for linux-x64)", fields: { path: dawn } });
  const stage = `${options.outDir}.staging`;
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  try {
    log("data: Fashion-MNIST low-contrast datanet, fortunes literature datanet and pretraining text, example specs");
    writeCheckData(join(stage, "data"));
    log("check.mjs: esbuild bundle of lib/gpu-bundle/entry.ts with tfjs and the wasm and WebGPU backends");
    await bundleScript(join(stage, "check.mjs"));
    mkdirSync(join(stage, "wasm"));
    const wasmDir = fromRoot("node_modules", "@tensorflow", "tfjs-backend-wasm", "dist");
    for (const f of readdirSync(wasmDir).filter((f) => f.endsWith(".wasm"))) copyFileSync(join(wasmDir, f), join(stage, "wasm", f));
    log(`dawn.node.gz: ${dawn}`);
    writeFileSync(join(stage, "dawn.node.gz"), gz(readFileSync(dawn)));
    mkdirSync(join(stage, "webgpu"));
    for (const f of ["index.js", "package.json"]) copyFileSync(fromRoot("node_modules", "webgpu", f), join(stage, "webgpu", f));
    log(`node.gz: ${node} (Node ${process.versions.node}; gzip -9 takes about 20 s)`);
    writeFileSync(join(stage, "node.gz"), gz(readFileSync(node)));
    vulkanLoader(stage, log);
    writeFileSync(join(stage, "run.sh"), RUN_SCRIPT, { mode: 0o755 });
    const files = listFiles(stage).map((path) => {
      const data = readFileSync(join(stage, path));
      return { path, bytes: data.length, sha256: sha256Hex(data) };
    });
    const bytes = files.reduce((s, f) => s + f.bytes, 0);
    if (bytes > BUNDLE_LIMIT_BYTES) {
      throw new GpuBundleError({
        code: "gpu-bundle/too-large",
        message: `the bundle is ${(bytes / 2 ** 20).toFixed(1)} MiB, over ${BUNDLE_LIMIT_BYTES / 2 ** 20} MiB`,
        hint: "the largest files are listed in manifest.json of the staging folder; shrink the data or compress harder",
        fields: { bytes, limit: BUNDLE_LIMIT_BYTES },
      });
    }
    writeFileSync(join(stage, "manifest.json"), `${JSON.stringify({ node: process.versions.node, built: new Date().toISOString(), bytes, files }, null, 2)}\n`);
    rmSync(options.outDir, { recursive: true, force: true });
    renameSync(stage, options.outDir);
    return { outDir: options.outDir, bytes, files };
  } catch (error) {
    rmSync(stage, { recursive: true, force: true });
    throw error;
  }
}

/**
 * The bundle's entry, POSIX sh: unpacks into a scratch folder (nothing is installed), finds or
 * supplies the Vulkan loader and, where a container mounted NVIDIA's driver without its Vulkan
 * manifest, writes one for libGLX_nvidia.so.0 (the driver's Vulkan ICD library); then runs the
 * check, which prints one JSON object on stdout.
 */
const RUN_SCRIPT = `#!/bin/sh
# OpenLedger Lab GPU check (./lab gpu-bundle). On a Linux x86-64 machine with an NVIDIA GPU and
# no network: ./run.sh > result.json   (progress on stderr; --quick for a short run,
# --allow-software to accept a software adapter). Nothing is installed; the scratch folder
# (\${LAB_GPU_CHECK_WORK:-/tmp/...}) is removed afterwards unless LAB_GPU_CHECK_KEEP is set.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=\${LAB_GPU_CHECK_WORK:-\${TMPDIR:-/tmp}/openledger-gpu-check.$$}
log() { echo "[gpu-check] $*" >&2; }
[ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] || { log "this bundle is for Linux x86-64, not $(uname -s)-$(uname -m)"; exit 2; }
mkdir -p "$work/node_modules/webgpu/dist/linux-x64" "$work/lib"
gzip -dc "$here/node.gz" > "$work/node" && chmod +x "$work/node"
gzip -dc "$here/dawn.node.gz" > "$work/node_modules/webgpu/dist/linux-x64/dawn.node"
cp "$here/webgpu/index.js" "$here/webgpu/package.json" "$work/node_modules/webgpu/"
cp -R "$here/check.mjs" "$here/wasm" "$here/data" "$work/"

system_lib() { for d in /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu /usr/lib64 /lib64 /usr/lib /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do [ -e "$d/$1" ] && { echo "$d/$1"; return 0; }; done; return 1; }

if loader=$(system_lib libvulkan.so.1); then
  log "Vulkan loader: $loader"
else
  deb=$(ls "$here"/libvulkan1_*.deb | head -n 1)
  if command -v dpkg-deb >/dev/null 2>&1; then
    dpkg-deb -x "$deb" "$work/deb" && cp -L "$work/deb/usr/lib/x86_64-linux-gnu/libvulkan.so.1" "$work/lib/"
  else
    cp "$here/vulkan/libvulkan.so.1" "$work/lib/"
  fi
  log "Vulkan loader: $(basename "$deb") (bundled)"
fi

icds=""
for d in /etc/vulkan/icd.d /usr/share/vulkan/icd.d /usr/local/share/vulkan/icd.d; do
  for f in "$d"/*.json; do [ -e "$f" ] && icds="$icds $f"; done
done
if [ -z "\${VK_DRIVER_FILES:-}\${VK_ICD_FILENAMES:-}" ] && ! echo "$icds" | grep -q nvidia; then
  if glx=$(system_lib libGLX_nvidia.so.0); then
    printf '{"file_format_version":"1.0.1","ICD":{"library_path":"%s","api_version":"1.3.0"}}\\n' "$glx" > "$work/nvidia_icd.json"
    VK_DRIVER_FILES="$work/nvidia_icd.json"; VK_ICD_FILENAMES="$VK_DRIVER_FILES"; export VK_DRIVER_FILES VK_ICD_FILENAMES
    log "no nvidia_icd.json installed: wrote one for $glx"
  else
    log "no NVIDIA Vulkan driver found (nvidia_icd.json, libGLX_nvidia.so.0); ICDs:\${icds:- none}"
  fi
fi

LD_LIBRARY_PATH="$work/lib\${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; export LD_LIBRARY_PATH
cd "$work"
set +e
"$work/node" check.mjs "$@"
rc=$?
set -e
cd /
[ -n "\${LAB_GPU_CHECK_KEEP:-}" ] || rm -rf "$work"
exit $rc
`;
