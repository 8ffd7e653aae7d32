// Keeps ONE comment per marker on a pull request: the first run creates it, later runs edit it.
// The comment is found by its marker line and by its author (the job token's user), so nobody
// else's comment is ever edited. Same REST shape on both forges:
//   GET/POST /repos/{owner}/{repo}/issues/{index}/comments, PATCH /repos/{owner}/{repo}/issues/comments/{id}
// GitHub: $GITHUB_API_URL with the job's GITHUB_TOKEN (author github-actions[bot]).
// Gitea: the runner's instance URL + /api/v1 with the job's token (author gitea-actions). act_runner
// puts that URL in every job as ACTIONS_RESULTS_URL (internal/app/run/runner.go, act_runner#473);
// it is the one job containers reach (PM-24), unlike gitea.server_url (Gitea's ROOT_URL).
//   tsx scripts/pr-comment.ts FILE [--marker NAME] [--preview STACK --outcome OUTCOME]
// Env: FORGE (github | gitea), TOKEN, REPOSITORY (owner/name), PR_NUMBER; COMMENT_AUTHOR overrides
// the expected author (a personal token). A token that may not write (a pull request from a fork
// gets a read-only one) is a warning, not a failure: the diff is in the job log either way.
import * as fs from "fs";

export type Forge = "github" | "gitea";

export interface CommentTarget {
  readonly forge: Forge;
  /** API root without a trailing slash: https://api.github.com, http://<runner URL>/api/v1. */
  readonly api: string;
  readonly token: string;
  readonly repository: string;
  readonly pr: number;
  /** Login the job token comments as. */
  readonly author: string;
}

/** Logins of the job tokens: GitHub's Actions app, Gitea's built-in Actions user (models/user/user_system.go). */
export const JOB_TOKEN_AUTHOR: Record<Forge, string> = { github: "github-actions[bot]", gitea: "gitea-actions" };

/** GitHub refuses bodies over 65536 characters. */
export const MAX_BODY = 65_536;

export const markerLine = (name: string) => `<!-- platform:${name} -->`;

/** Reads and checks the job's environment; every error names the variable. */
export function targetFromEnv(env: NodeJS.ProcessEnv): CommentTarget {
  const need = (k: string) => {
    const v = env[k];
    if (!v) throw new Error(`${k} is not set`);
    return v;
  };
  const forge = need("FORGE");
  if (forge !== "github" && forge !== "gitea") throw new Error(`FORGE must be github or gitea, got "${forge}"`);
  const repository = need("REPOSITORY");
  if (!/^[\w.-]+\/[\w.-]+$/.test(repository)) throw new Error(`REPOSITORY must be owner/name, got "${repository}"`);
  const pr = Number(need("PR_NUMBER"));
  if (!Number.isInteger(pr) || pr < 1) throw new Error(`PR_NUMBER must be a pull request number, got "${env.PR_NUMBER}"`);
  let api: string;
  if (forge === "github") api = env.GITHUB_API_URL || "https://api.github.com";
  else {
    const runnerUrl = env.ACTIONS_RESULTS_URL;
    if (!runnerUrl) throw new Error("ACTIONS_RESULTS_URL is not set: act_runner sets it to the instance URL it registered with, the one job containers reach (PM-24)");
    api = `${runnerUrl.replace(/\/+$/, "")}/api/v1`;
  }
  if (!/^https?:\/\/[^/\s]+/.test(api)) throw new Error(`API URL must be http(s), got "${api}"`);
  return { forge, api: api.replace(/\/+$/, ""), token: need("TOKEN"), repository, pr, author: env.COMMENT_AUTHOR || JOB_TOKEN_AUTHOR[forge] };
}

export interface IssueComment {
  readonly id: number;
  readonly body?: string;
  readonly user?: { readonly login?: string } | null;
}

/** The comment to edit: the oldest with the marker that the job token's user wrote. */
export function findComment(comments: readonly IssueComment[], marker: string, author: string): IssueComment | undefined {
  return comments.find((c) => (c.body ?? "").includes(marker) && c.user?.login === author);
}

/** The body as posted: the marker first, never over the forge's limit. */
export function commentBody(text: string, marker: string, max = MAX_BODY): string {
  const body = text.includes(marker) ? text : `${marker}\n${text}`;
  if (body.length <= max) return body;
  const note = "\n\n… (cut at the comment limit; the full text is in the job log)\n";
  return body.slice(0, max - note.length) + note;
}

/** `pulumi preview --diff` output as a comment: the end of it, where the summary is, within the limit. */
export function previewBody(stack: string, outcome: string, output: string, max = 60_000): string {
  const text = output.length > max ? `…\n${output.slice(-max)}` : output;
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = "`".repeat(Math.max(3, longest + 1));
  return `### pulumi preview: \`${stack.replace(/`/g, "")}\` (${outcome.replace(/[^\w-]/g, "")})\n\n<details><summary>diff</summary>\n\n${fence}diff\n${text}\n${fence}\n</details>\n`;
}

type Fetch = (url: string, init: { method: string; headers: Record<string, string>; body?: string }) => Promise<{ status: number; ok: boolean; text(): Promise<string> }>;

export class ForgeError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

function headers(t: CommentTarget): Record<string, string> {
  const base = { "Content-Type": "application/json", "User-Agent": "platform-pr-comment" };
  return t.forge === "github"
    ? { ...base, Accept: "application/vnd.github+json", Authorization: `Bearer ${t.token}`, "X-GitHub-Api-Version": "2022-11-28" }
    : { ...base, Accept: "application/json", Authorization: `token ${t.token}` };
}

async function call(t: CommentTarget, fetchImpl: Fetch, method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await fetchImpl(`${t.api}${path}`, { method, headers: headers(t), ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await res.text();
  if (!res.ok) throw new ForgeError(`${method} ${path}: HTTP ${res.status} ${text.slice(0, 300)}`, res.status);
  return text ? JSON.parse(text) : undefined;
}

/** Every comment of the pull request: GitHub pages by 100; Gitea's issue comment list is not paged. */
export async function listComments(t: CommentTarget, fetchImpl: Fetch): Promise<IssueComment[]> {
  const path = `/repos/${t.repository}/issues/${t.pr}/comments`;
  if (t.forge === "gitea") return (await call(t, fetchImpl, "GET", path)) as IssueComment[];
  const all: IssueComment[] = [];
  for (let page = 1; page <= 100; page++) {
    const batch = (await call(t, fetchImpl, "GET", `${path}?per_page=100&page=${page}`)) as IssueComment[];
    all.push(...batch);
    if (batch.length < 100) break;
  }
  return all;
}

export type Outcome = { readonly action: "created" | "updated"; readonly id: number } | { readonly action: "not-allowed"; readonly reason: string };

/** Creates the comment, or edits the one this job wrote before. */
export async function upsertComment(t: CommentTarget, text: string, marker: string, fetchImpl: Fetch = fetch as unknown as Fetch): Promise<Outcome> {
  const body = commentBody(text, marker);
  const existing = findComment(await listComments(t, fetchImpl), marker, t.author);
  try {
    if (existing) {
      await call(t, fetchImpl, "PATCH", `/repos/${t.repository}/issues/comments/${existing.id}`, { body });
      return { action: "updated", id: existing.id };
    }
    const created = (await call(t, fetchImpl, "POST", `/repos/${t.repository}/issues/${t.pr}/comments`, { body })) as IssueComment;
    return { action: "created", id: created.id };
  } catch (err) {
    // A read-only token (a pull request from a fork): reading worked, writing is refused.
    if (err instanceof ForgeError && (err.status === 403 || err.status === 404)) return { action: "not-allowed", reason: err.message };
    throw err;
  }
}

export function parseArgs(argv: readonly string[]): { file: string; marker: string; preview?: { stack: string; outcome: string } } {
  const args = argv.filter((a) => a !== "--");
  const flags = new Map<string, string>();
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (!args[i].startsWith("--")) { positional.push(args[i]); continue; }
    if (!["--marker", "--preview", "--outcome"].includes(args[i])) throw new Error(`unknown option ${args[i]}`);
    if (args[i + 1] === undefined) throw new Error(`${args[i]} needs a value`);
    flags.set(args[i].slice(2), args[++i]);
  }
  if (positional.length !== 1) throw new Error("usage: pr-comment FILE [--marker NAME] [--preview STACK --outcome OUTCOME]");
  const marker = flags.get("marker") ?? (flags.has("preview") ? `pulumi-preview:${flags.get("preview")}` : "render-diff");
  if (!/^[\w:.-]+$/.test(marker)) throw new Error(`--marker must be a plain name, got "${marker}"`);
  return { file: positional[0], marker, ...(flags.has("preview") ? { preview: { stack: flags.get("preview")!, outcome: flags.get("outcome") ?? "unknown" } } : {}) };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const target = targetFromEnv(process.env);
  if (!fs.existsSync(args.file)) throw new Error(`${args.file} does not exist: the step that writes it failed before it could`);
  const text = fs.readFileSync(args.file, "utf8");
  const body = args.preview ? previewBody(args.preview.stack, args.preview.outcome, text) : text;
  const result = await upsertComment(target, body, markerLine(args.marker));
  if (result.action === "not-allowed") {
    const msg = `the job token may not comment on pull request #${target.pr} (read-only, e.g. a pull request from a fork): ${result.reason}`;
    console.log(target.forge === "github" ? `::warning title=no PR comment::${msg}` : `warning: ${msg}`);
  } else {
    console.log(`${result.action} comment ${result.id} on ${target.repository}#${target.pr}`);
  }
}

if (require.main === module) {
  main().then(() => process.exit(0), (err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
