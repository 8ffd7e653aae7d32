// The change model itself, and the first thing it proves: evaluating a stack twice with the same
// config gives the engine nothing to do (no timestamps, no randomness, no order dependence).
import { describe, expect, it } from "vitest";
import { changedPaths, changesBetween } from "./helpers/changes";
import { runStack } from "./helpers/stack";

describe("change model", () => {
  it("changed paths unwrap secrets, go down to the leaf and skip ignoreChanges", () => {
    const secret = (value: string) => ({ "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value });
    expect(changedPaths({ a: { b: 1, c: 2 } }, { a: { b: 1, c: 3 } })).toEqual(["a.c"]);
    expect(changedPaths({ s: secret("x") }, { s: secret("x") })).toEqual([]);
    expect(changedPaths({ s: secret("x") }, { s: secret("y") })).toEqual(["s"]);
    expect(changedPaths({ metadata: { a: 1 }, b: 1 }, { metadata: { a: 2 }, b: 1 }, ["metadata"])).toEqual([]);
    expect(changedPaths({ l: [1, 2] }, { l: [1, 3] })).toEqual(["l"]);
  });

  for (const stack of ["dev", "oci", "homelab"] as const) {
    it(`${stack}: a second evaluation with the same config changes nothing`, async () => {
      const first = await runStack(stack);
      const second = await runStack(stack);
      const set = changesBetween(first, second);
      for (const c of ["create", "delete", "replace", "update"] as const) expect(set.names(c), c).toEqual([]);
      expect(set.of("same").length).toBeGreaterThan(100);
    });
  }

  it("a changed secret shows up where it is used, and triggers replace what they guard (today: the k3d cluster)", async () => {
    const before = await runStack("dev");
    const after = await runStack("dev", { secrets: { "platform:registryPassword": "rotated-registry-password-1" } });
    const set = changesBetween(before, after);
    expect(set.names("update").length + set.names("replace").length).toBeGreaterThan(0);
  });
});
