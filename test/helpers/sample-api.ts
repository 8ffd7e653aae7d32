// The sample app (components/apps/template, Python standard library only) as a real HTTP server on
// 127.0.0.1: the image's Config.from_env and make_server, bound to loopback instead of 0.0.0.0.
import * as path from "path";
import { ROOT } from "./stack";
import { answers, freePort, Service, startService } from "./processes";

const TEMPLATE = path.join(ROOT, "components/apps/template");
const SERVE = [
  "import sys",
  "from sample_api.server import Config, make_server",
  "make_server(Config.from_env(), host='127.0.0.1', port=int(sys.argv[1])).serve_forever(poll_interval=0.05)",
].join("\n");

/** The test's environment without the app's own settings (a developer's DATABASE_HOST, ...). */
function inherited(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(DATABASE_|ERROR_RATE$|PORT$)/.test(k)));
}

export interface SampleApi extends Service { readonly url: string }

/** `env` is what the platform's Secret gives the container (DATABASE_HOST, ...). */
export async function startSampleApi(python3: string, env: Record<string, string> = {}): Promise<SampleApi> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // -B: no __pycache__ in the source tree.
  const svc = await startService("sample-api", python3, ["-B", "-c", SERVE, String(port)], {
    cwd: TEMPLATE, env: { ...inherited(), PYTHONDONTWRITEBYTECODE: "1", ...env }, ready: answers(`${url}/health`),
  });
  return { ...svc, url };
}
