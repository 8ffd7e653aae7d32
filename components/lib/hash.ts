// Deterministic bcrypt: the salt is derived from a seed, so the same password yields the same hash
// on every preview (a random salt would show a diff each time). Used for Argo CD passwords (PM-05)
// and registry htpasswd entries (distribution v3 accepts bcrypt only, PM-13).
import { createHash } from "crypto";
import * as bcrypt from "bcryptjs";

const BCRYPT_ALPHABET = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

export function deterministicSalt(seed: string, rounds = 10): string {
  const digest = createHash("sha256").update(seed).digest();
  let salt = "";
  for (let i = 0; i < 22; i++) salt += BCRYPT_ALPHABET[digest[i] % 64];
  // The 22nd character only carries 2 bits; bcrypt implementations normalise it, so keep it canonical.
  salt = salt.slice(0, 21) + ".Oeu"[digest[21] % 4];
  return `$2a$${String(rounds).padStart(2, "0")}$${salt}`;
}

export function bcryptHash(password: string, seed: string): string {
  if (password.length === 0) throw new Error("bcryptHash: empty password");
  return bcrypt.hashSync(password, deterministicSalt(seed));
}

export function bcryptVerify(password: string, hash: string): boolean {
  return bcrypt.compareSync(password, hash);
}

/** One htpasswd line, `user:$2y$…` (bcrypt is the only scheme registry:3 accepts). */
export function htpasswdLine(user: string, password: string, seed: string): string {
  if (!/^[A-Za-z0-9._-]+$/.test(user)) throw new Error(`htpasswdLine: invalid user name ${user}`);
  return `${user}:${bcryptHash(password, seed).replace(/^\$2a\$/, "$2y$")}`;
}
