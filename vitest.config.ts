import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Files share a worker's module cache: loading @pulumi/* once per worker, not once per file,
    // halves the suite. Each file still installs its own mocks (setMocks in beforeAll), and whole-stack
    // runs take a fresh module graph (vi.resetModules). Checked order-independent with --sequence.shuffle.
    isolate: false,
    testTimeout: 30_000,
    // One temporary directory per run (leaks fail the run) and the list of skipped real-component tests.
    globalSetup: ["test/helpers/global-setup.ts"],
    reporters: ["default"],
    // A program failing on a check that awaits an invoke (components/inputs.ts) rejects every stack
    // output with the same ConfigError; Pulumi's run.js reports it once per error object. Tests see it
    // through runStackError; the copies in the Outputs' internal promises are not new errors.
    onUnhandledError: (error: Error) => (error.name === "ConfigError" ? false : undefined),
  },
});
