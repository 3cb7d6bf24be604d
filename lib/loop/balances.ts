// Balances of the loop's parties on L2, taken after each step, so a table can show who paid and
// who was paid at every point of the loop.
import type { L2Ledger } from "./l2.js";

export interface Party {
  name: string;
  role: string;
  address: string;
}

export interface BalanceRow {
  step: string;
  /** L2 block the balances were read at. */
  block: number;
  balances: bigint[];
}

export class BalanceSheet {
  readonly rows: BalanceRow[] = [];

  constructor(
    private readonly l2: L2Ledger,
    readonly parties: readonly Party[],
  ) {}

  /** Reads every party's balance at the L2 head, under the name of the step just done. */
  async take(step: string): Promise<BalanceRow> {
    const row = { step, block: this.l2.sequencer.unsafeHead.number, balances: await this.l2.balances(this.parties.map((p) => p.address)) };
    this.rows.push(row);
    return row;
  }

  /** Change of each party's balance from the first row to the last (wei). */
  change(): bigint[] {
    const first = this.rows[0];
    const last = this.rows[this.rows.length - 1];
    if (!first || !last) return this.parties.map(() => 0n);
    return last.balances.map((b, i) => b - first.balances[i]!);
  }
}
