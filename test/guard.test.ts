// The change guard: a changed fingerprint stops preview (check) and up (update) with its message.
import { describe, expect, it } from "vitest";
import { guardCheck, guardProvider } from "../components/lib/guard";

describe("ChangeGuard", () => {
  const msg = "platform:k3sToken cannot change on a live cluster: run `k3s token rotate` first";
  it("the first run and an unchanged value pass; a changed value fails with the message", async () => {
    expect(guardCheck({}, { fingerprint: "a", message: msg }).failures).toBeUndefined();
    expect(guardCheck({ fingerprint: "a", message: msg }, { fingerprint: "a", message: "reworded" }).failures).toBeUndefined();
    expect(guardCheck({ fingerprint: "a", message: msg }, { fingerprint: "b", message: msg }).failures).toEqual([{ property: "fingerprint", reason: msg }]);
    const check = await guardProvider.check!({ fingerprint: "a", message: msg }, { fingerprint: "b", message: msg });
    expect(check.failures?.[0].reason).toBe(msg);
  });
  it("update refuses too (a provider that skipped check), and a reworded message is only an update", async () => {
    await expect(guardProvider.update!("guard", { fingerprint: "a", message: msg }, { fingerprint: "b", message: msg })).rejects.toThrow(msg);
    await expect(guardProvider.update!("guard", { fingerprint: "a", message: msg }, { fingerprint: "a", message: "new words" })).resolves.toMatchObject({ outs: { fingerprint: "a" } });
    expect((await guardProvider.diff!("guard", { fingerprint: "a", message: msg }, { fingerprint: "a", message: msg })).changes).toBe(false);
  });
});
