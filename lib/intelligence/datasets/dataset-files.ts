import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { sha256Hex } from "../../files.js";
import { DatasetError } from "../errors.js";
import type { DatasetSource } from "./dataset-source.js";
import { FORTUNES, FORTUNES_DE, FORTUNES_ES } from "./fortune-sets.js";

export type { DatasetFileSpec, DatasetSource } from "./dataset-source.js";

export const FASHION_MNIST: DatasetSource = {
  name: "fashion-mnist",
  aptPackage: "dataset-fashion-mnist",
  defaultDir: "/usr/share/datasets/fashion-mnist",
  license: "MIT (Expat), Copyright 2017 Zalando SE",
  upstream: "https://github.com/zalandoresearch/fashion-mnist",
  files: {
    trainImages: { file: "train-images-idx3-ubyte.gz", sha256: "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7" },
    trainLabels: { file: "train-labels-idx1-ubyte.gz", sha256: "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056" },
    testImages: { file: "t10k-images-idx3-ubyte.gz", sha256: "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa" },
    testLabels: { file: "t10k-labels-idx1-ubyte.gz", sha256: "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05" },
  },
};

export const FORTUNES_MIN: DatasetSource = {
  name: "fortunes-min",
  aptPackage: "fortunes-min",
  defaultDir: "/usr/share/games/fortunes",
  license: "BSD (fortune-mod, The Regents of the University of California); quotations as collected in fortune-mod 1.99.1",
  upstream: "fortune-mod 1.99.1 (Debian package fortunes-min 1:1.99.1-7.3)",
  files: {
    fortunes: { file: "fortunes", sha256: "8819e6b83bacd6b7e8a4a2483f41e126b3b4b3ef8cd2aca907a53b163f082fd5" },
    literature: { file: "literature", sha256: "22eab7d53ce994d0466901bb0d799ae3289603e17dc0bdb7f16666931155c5a5" },
    riddles: { file: "riddles", sha256: "bcaaab907b156a18a8943f0768828b4f1a18d382497d0e2ef012fe6aaa27becc" },
  },
};

export const DATASETS: Record<string, DatasetSource> = {
  [FASHION_MNIST.name]: FASHION_MNIST,
  [FORTUNES_MIN.name]: FORTUNES_MIN,
  [FORTUNES.name]: FORTUNES,
  [FORTUNES_DE.name]: FORTUNES_DE,
  [FORTUNES_ES.name]: FORTUNES_ES,
};

export function datasetDir(source: DatasetSource, dir?: string): string {
  if (dir) return dir;
  const env = process.env[`LAB_DATASETS_${source.name.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`];
  return env && env.length > 0 ? env : source.defaultDir;
}

/** Reads one file of a data set and checks its sha256; refuses a missing or altered file. */
export function readVerified(source: DatasetSource, key: string, dir?: string): Buffer {
  const spec = source.files[key];
  if (!spec)
    throw new DatasetError({
      code: "dataset/unknown-file",
      message: `data set ${source.name} has no file "${key}"`,
      hint: `use one of: ${Object.keys(source.files).join(", ")}`,
      fields: { dataset: source.name, file: key },
    });
  const path = join(datasetDir(source, dir), spec.file);
  if (!existsSync(path)) {
    throw new DatasetError({
      code: "dataset/missing-file",
      message: `data set ${source.name}: file ${path} is missing`,
      hint: `install the Debian package: sudo apt-get install ${source.aptPackage} (./lab set-up installs every package in datasets/apt-packages.txt)`,
      fields: { dataset: source.name, path, aptPackage: source.aptPackage },
    });
  }
  const bytes = readFileSync(path);
  const actual = sha256Hex(bytes);
  if (actual !== spec.sha256) {
    throw new DatasetError({
      code: "dataset/hash-mismatch",
      message: `data set ${source.name}: ${path} has sha256 ${actual}, expected ${spec.sha256} (datasets/README.md)`,
      hint: `the file was altered or is another version; reinstall it: sudo apt-get install --reinstall ${source.aptPackage}`,
      fields: { dataset: source.name, path, actual, expected: spec.sha256 },
    });
  }
  return bytes;
}

/** Checks every file of a data set; returns the verified paths. */
export function verifyDataset(source: DatasetSource, dir?: string): string[] {
  return Object.keys(source.files).map((key) => {
    readVerified(source, key, dir);
    return join(datasetDir(source, dir), source.files[key].file);
  });
}
