// Issue 10, the cluster's share: two evaluations of a whole stack, before and after a day-two
// change, compared with the change model (test/helpers/changes.ts) and the registration record.
import { describe, expect, it } from "vitest";
import { changesBetween } from "./helpers/changes";
import { Registration } from "./helpers/engine";
import { plain } from "./helpers/mocks";
import { runStack, runStackError, StackOptions, StackRun } from "./helpers/stack";

const STACKS = ["dev", "oci", "homelab"] as const;

function only(run: StackRun, pred: (r: Registration) => boolean, what: string): Registration {
  const all = [...run.engine.resources.values()].filter(pred);
  if (all.length !== 1) throw new Error(`expected one ${what}, found ${all.length}`);
  return all[0];
}
const provider = (run: StackRun) => only(run, (r) => r.type === "pulumi:providers:kubernetes", "Kubernetes provider");
/** A provider flag as the engine receives it (provider inputs travel as strings). */
const flag = (v: unknown) => String(plain(v));

/**
 * Evaluates a stack before and after a change and compares what a second `up` would do. `between`
 * changes the program itself (a pinned version); the second run sees the first's registrations, as
 * the engine sees the state.
 */
async function change(stack: string, after: StackOptions, between?: () => void) {
  const before = await evaluate(stack);
  between?.();
  const opts = { ...after, mocks: { ...after.mocks, previous: before.created } };
  // A changed program is evaluated afresh; the same change to the same baseline is evaluated once.
  const next = between ? await runStack(stack, opts) : await evaluate(stack, opts);
  return { before, after: next, set: changesBetween(before, next) };
}

/** Each distinct evaluation once per file (the suite shares two cores). */
const evaluations = new Map<string, Promise<StackRun>>();
function evaluate(stack: string, opts: StackOptions = {}): Promise<StackRun> {
  const key = `${stack} ${JSON.stringify({ ...opts, mocks: { ...opts.mocks, previous: opts.mocks?.previous ? "baseline" : undefined } })}`;
  if (!evaluations.has(key)) evaluations.set(key, runStack(stack, opts));
  return evaluations.get(key)!;
}


describe("#1 refresh is safe: deleteUnreachable only when platform:deleteUnreachable says so", () => {
  for (const stack of STACKS) {
    it(`${stack}: off by default`, async () => {
      const run = await evaluate(stack);
      // Today: hard-coded "true".
      expect(flag(provider(run).inputs.deleteUnreachable)).toBe("undefined");
    });
  }

  it("on when the key is true; a value that is not a boolean fails naming the key", async () => {
    const on = await evaluate("oci", { config: { "platform:deleteUnreachable": "true" } });
    expect(flag(provider(on).inputs.deleteUnreachable)).toBe("true");
    const off = await evaluate("oci", { config: { "platform:deleteUnreachable": "false" } });
    expect(flag(provider(off).inputs.deleteUnreachable)).toBe("undefined");
    const { error, created } = await runStackError("oci", { config: { "platform:deleteUnreachable": "yes" } });
    expect(error.message).toMatch(/^platform:deleteUnreachable: must be true or false/);
    expect(created).toEqual([]);
  });

  it("turning it on and off again updates the provider, never replaces it or an object", async () => {
    const { set } = await change("homelab", { config: { "platform:deleteUnreachable": "true" } });
    expect(set.names("replace")).toEqual([]);
    expect(set.names("update")).toEqual(["pulumi:providers:kubernetes::k8s"]);
  });
});
