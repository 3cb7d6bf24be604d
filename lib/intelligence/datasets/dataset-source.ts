/**
 * The data sets the lab uses, as installed by Debian packages (./lab set-up installs the
 * packages listed in datasets/apt-packages.txt). Hashes are of the installed files; they are
 * the same figures as datasets/README.md, and a file whose bytes differ is refused.
 */
export interface DatasetFileSpec {
  file: string;
  sha256: string;
}

export interface DatasetSource {
  name: string;
  /** The Debian package that installs the files. */
  aptPackage: string;
  /** Folder the package installs into; LAB_DATASETS_<NAME> overrides it (tests, other distros). */
  defaultDir: string;
  license: string;
  upstream: string;
  files: Record<string, DatasetFileSpec>;
}
