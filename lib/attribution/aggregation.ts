/**
 * From examples to people: per-example scores for one inference summed to contributors and
 * datanets. A datanet's weight is its share of the positive influence,
 *   W(Dᵢ) = I(Dᵢ) / Σ_{j: I(Dⱼ) > 0} I(Dⱼ)  for I(Dᵢ) > 0, else 0,
 * and inside a datanet each contributor's weight is likewise its share of the datanet's positive
 * contributor influence. Flagged examples (e.g. detected as mislabeled) are left out of every sum;
 * negative and flagged data earn nothing and are listed in the report.
 */
import { AttributionError } from "./errors.js";

export interface Provenance {
  /** Datanet index of each training example. */
  datanetOf: Int32Array;
  /** Contributor index of each training example. */
  contributorOf: Int32Array;
  datanets: string[];
  /** Contributor payout addresses (0x…), indexed by contributorOf. */
  contributors: string[];
  /** Training examples excluded from rewards. */
  flagged?: Set<number>;
}

export interface PartyInfluence {
  name: string;
  influence: number;
  weight: number;
}

/** A contributor in one datanet (one address may contribute to several). */
export interface ContributorInDatanet {
  /** The contributor's payout address. */
  contributor: string;
  datanet: string;
}

export interface Aggregate {
  datanets: PartyInfluence[];
  /** Per contributor: influence inside its datanet(s) and its overall weight (datanet weight × share inside). */
  contributors: (PartyInfluence & { datanet: string })[];
  /** Datanets, and contributors within a datanet, whose net influence is ≤ 0 (they earn nothing). */
  negative: { datanets: string[]; contributors: ContributorInDatanet[] };
  flagged: number[];
  totalPositive: number;
}

export function aggregate(scores: ArrayLike<number>, prov: Provenance): Aggregate {
  const n = scores.length;
  if (prov.datanetOf.length !== n || prov.contributorOf.length !== n) {
    throw new AttributionError({
      code: "aggregation/size-mismatch",
      message: `provenance covers ${prov.datanetOf.length} examples, scores ${n}`,
      hint: "attribute against the same training set the provenance was built for",
      fields: { provenance: prov.datanetOf.length, scores: n },
    });
  }
  const dn = new Float64Array(prov.datanets.length);
  // contributor influence is kept per (datanet, contributor): one address may contribute to several datanets
  const per = new Map<string, { d: number; c: number; v: number }>();
  const flagged: number[] = [];
  for (let i = 0; i < n; i++) {
    if (prov.flagged?.has(i)) {
      flagged.push(i);
      continue;
    }
    const s = scores[i];
    if (!Number.isFinite(s))
      throw new AttributionError({
        code: "aggregation/non-finite-score",
        message: `score of example ${i} is ${s}`,
        hint: "check the attribution run: a non-finite score means a singular Hessian or overflow",
        fields: { example: i, score: String(s) },
      });
    const d = prov.datanetOf[i];
    const c = prov.contributorOf[i];
    dn[d] += s;
    const key = `${d}/${c}`;
    const e = per.get(key) ?? { d, c, v: 0 };
    e.v += s;
    per.set(key, e);
  }
  let totalPositive = 0;
  for (const v of dn) if (v > 0) totalPositive += v;
  const datanets = prov.datanets.map((name, d) => ({ name, influence: dn[d], weight: dn[d] > 0 && totalPositive > 0 ? dn[d] / totalPositive : 0 }));
  const posInDatanet = new Float64Array(prov.datanets.length);
  for (const e of per.values()) if (e.v > 0) posInDatanet[e.d] += e.v;
  const contributors = [...per.values()]
    .sort((a, b) => a.d - b.d || a.c - b.c)
    .map((e) => ({
      name: prov.contributors[e.c],
      datanet: prov.datanets[e.d],
      influence: e.v,
      weight: e.v > 0 && posInDatanet[e.d] > 0 ? datanets[e.d].weight * (e.v / posInDatanet[e.d]) : 0,
    }));
  return {
    datanets,
    contributors,
    negative: {
      datanets: datanets.filter((d) => d.influence <= 0).map((d) => d.name),
      contributors: contributors.filter((c) => c.influence <= 0).map((c) => ({ contributor: c.name, datanet: c.datanet })),
    },
    flagged,
    totalPositive,
  };
}

/** The contributor entry with the largest weight (the first of equals); refused for an aggregate without contributors. */
export function topContributor(agg: Pick<Aggregate, "contributors">): Aggregate["contributors"][number] {
  if (agg.contributors.length === 0)
    throw new AttributionError({
      code: "aggregation/no-contributors",
      message: "the aggregate names no contributor",
      hint: "aggregate scores over a training set with at least one contributor",
      fields: { contributors: 0 },
    });
  return agg.contributors.reduce((best, c) => (c.weight > best.weight ? c : best));
}

/** A contributor's overall weight: the sum over every datanet it contributed to (0 when absent); addresses compare case-blind. */
export function contributorWeight(agg: Pick<Aggregate, "contributors">, address: string): number {
  const want = address.toLowerCase();
  return agg.contributors.reduce((sum, c) => (c.name.toLowerCase() === want ? sum + c.weight : sum), 0);
}
