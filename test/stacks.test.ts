import { describe, expect, it } from "vitest";
import { find, findAll, plain } from "./helpers/mocks";
import { runStack } from "./helpers/stack";

describe("whole stacks under mocks (the program as `pulumi up` runs it)", () => {
  it("dev evaluates: k3d cluster, one provider, secret kubeconfig", async () => {
    const run = await runStack("dev");
    expect(find(run.created, "command:local:Command").name).toBe("k3d-cluster");
    expect(findAll(run.created, "pulumi:providers:kubernetes")).toHaveLength(1);
    expect(run.outputs.environment).toBe("dev");
    console.log(`dev evaluated in ${run.ms.toFixed(0)} ms, ${run.created.length} resources`);
  });

  it("oci evaluates: network, A1 instance, K3s over SSH", async () => {
    const run = await runStack("oci");
    const instance = find(run.created, "oci:Core/instance:Instance");
    expect(instance.inputs.shape).toBe("VM.Standard.A1.Flex");
    expect(find(run.created, "command:remote:Command", (c) => c.name === "k3s-server")).toBeDefined();
    expect(findAll(run.created, "pulumi:providers:kubernetes")).toHaveLength(1);
    console.log(`oci evaluated in ${run.ms.toFixed(0)} ms, ${run.created.length} resources`);
  });

  it("homelab evaluates: preflight then K3s", async () => {
    const run = await runStack("homelab");
    const preflight = find(run.created, "command:remote:Command", (c) => c.name === "homelab-preflight");
    expect(plain(preflight.inputs.connection).host).toBe("192.0.2.10");
    console.log(`homelab evaluated in ${run.ms.toFixed(0)} ms, ${run.created.length} resources`);
  });
});
