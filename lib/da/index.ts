// Data availability in the EigenDA mould: payload codec, Reed–Solomon and KZG on BN254,
// operators' attestations, certificates checked on L1, the proxy, and alt-DA for the rollup.

export * from "./altda.js";
export * from "./altda-source.js";
export * from "./assignment.js";
export * from "./blob-params.js";
export * from "./bls.js";
export * from "./bn254.js";
export * from "./certificate.js";
export * from "./codec.js";
export * from "./da-measurements.js";
export * from "./dispersal-blob.js";
export * from "./disperser.js";
export * from "./errors.js";
export * from "./field.js";
export * from "./fk20.js";
export * from "./kzg-bn254.js";
export * from "./l1.js";
export * from "./layer.js";
export * from "./ntt.js";
export * from "./operators.js";
export * from "./payment.js";
export * from "./polynomial-form.js";
export * from "./proxy.js";
export * from "./proxy-client.js";
export * from "./reed-solomon.js";
export * from "./retrieval.js";
export * from "./srs.js";
export * from "./srs-eigenda.js";
export * from "./stack.js";
