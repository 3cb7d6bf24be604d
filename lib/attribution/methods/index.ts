export * from "./attributor.js";
export {
  checkDampingFactor,
  DATAINF_LAMBDA_FACTOR,
  DataInf,
  type DatainfGrouping,
  datainfGroups,
  datainfInverseHvp,
  datainfLambda,
  datainfSelfInfluence,
  layerExactInverseHvp,
  layerLissaInverseHvp,
  layerwiseInfluence,
} from "./datainf.js";
export { GradDot } from "./grad-dot.js";
export { InfiniGram } from "./infini-gram.js";
export { CGInfluence, ExactInfluence, LiSSAInfluence, largestEigenvalue, smallestEigenvalue } from "./influence.js";
export { type SpanCorpus, type SpanScores, sequenceOf, spanCorpus, targetWeightsOf } from "./span-corpus.js";
export { SpanMatch } from "./span-match.js";
export { TracInCP } from "./tracin.js";
export { outToLoss, TRAK, type TrakOptions } from "./trak.js";
