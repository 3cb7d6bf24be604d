/**
 * The loop: OpenLedger's layers run as one closed cycle on the Ledger layer's L2.
 *
 * balances.ts    the parties' balances on L2 after each step
 * l2.ts          the L2 driven by the loop's own transactions: sequenced, batched to L1, derived, output roots
 * steps.ts       the loop's steps on L2 (registries, fees, attribution records and epochs, claims)
 * stakes.ts      contributors' stakes, evidence from self-influence, challenges, slashing and decisions
 * rewards.ts     fee splits and per-inference reward trees, with the books' invariants
 * classifier.ts  one paid inference of the Factory classifier, attributed (DataInf); the roll-up every scored inference shares
 * text.ts        one paid completion of the Factory language model, attributed by gradients (DataInf) and exact match (suffix arrays)
 * diagram.ts     the flow of the loop as a self-contained SVG
 */
export * from "./balances.js";
export * from "./classifier.js";
export * from "./completion-attribution.js";
export * from "./diagram.js";
export * from "./errors.js";
export * from "./l2.js";
export * from "./reward-book.js";
export * from "./stakes.js";
export * from "./steps.js";
