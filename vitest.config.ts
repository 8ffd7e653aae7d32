import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Each test file gets its own module graph, so every file sets its own Pulumi mocks.
    isolate: true,
    testTimeout: 30_000,
    reporters: ["default"],
  },
});
