import { expect } from "chai";
import { getAddress } from "ethers";
import { LoopError } from "../../../lib/loop/errors.js";
import { payoutsReceived } from "../../../lib/loop/steps.js";
import { expectCode } from "../expect-code.js";

describe("the loop's payouts as the contributors' balances show them", () => {
  const [a, b, c] = [1, 2, 3].map((i) => getAddress(`0x${String(i).repeat(40)}`)) as [string, string, string];
  const book = {
    owed: new Map([
      [a, 700n],
      [b, 300n],
    ]),
  };
  const claims = [{ account: a }, { account: a }, { account: b }];
  const block = {
    calls: [
      { from: a, feePaid: 5n },
      { from: a, feePaid: 6n },
      { from: b, feePaid: 7n },
    ],
  };

  it("adds the claiming fees back to each balance's gain and counts the claims; an account owed nothing shows 0", () => {
    const rows = payoutsReceived(book, claims, block, { accounts: [a, b, c], before: [1000n, 50n, 9n], after: [1000n + 700n - 11n, 50n + 300n - 7n, 9n] });
    expect(rows).to.deep.equal([
      { account: a, claims: 2, owed: 700n, received: 700n },
      { account: b, claims: 1, owed: 300n, received: 300n },
      { account: c, claims: 0, owed: 0n, received: 0n },
    ]);
  });

  it("shows a shortfall as received below owed, and refuses balances of other accounts", () => {
    expect(payoutsReceived(book, claims, block, { accounts: [b], before: [50n], after: [50n + 299n - 7n] })[0]).to.include({ owed: 300n, received: 299n });
    expectCode(() => payoutsReceived(book, claims, block, { accounts: [a, b], before: [1n], after: [1n, 2n] }), LoopError, "loop/balances", { accounts: 2, before: 1, after: 2 });
  });
});
