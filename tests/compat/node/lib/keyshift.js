// Starts a real `keyshift serve` on a free loopback port with a temporary database and
// returns the official Unkey SDK pointed at it. No mocks: every call crosses loopback HTTP.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Unkey } from "@unkey/api";

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, "..", "..", "..", "..");  // tests/compat/node/lib -> repo root

export function keyshiftBin() {
  const bin = process.env.KEYSHIFT_BIN || join(REPO, "target", "debug", "keyshift");
  if (!existsSync(bin)) {
    throw new Error(`keyshift binary not found at ${bin}; run \`cargo build -p keyshift-cli\` or set KEYSHIFT_BIN`);
  }
  return bin;
}

/**
 * Starts `keyshift serve --db <tmp> --listen 127.0.0.1:0 --json`, waits for its JSON line
 * `{"baseUrl", "rootKey"}` and returns { baseUrl, rootKey, unkey, stop }.
 */
export async function startServer() {
  const dir = mkdtempSync(join(tmpdir(), "keyshift-compat-node-"));
  const db = join(dir, "keyshift.db");
  const env = { ...process.env };
  delete env.KEYSHIFT_ROOT_KEY;
  const child = spawn(keyshiftBin(), ["serve", "--db", db, "--listen", "127.0.0.1:0", "--json"], {
    stdio: ["ignore", "pipe", "pipe"],
    env,
  });
  let stderr = "";
  child.stderr.on("data", (d) => {
    stderr += d.toString();
  });
  const exited = new Promise((res) => child.once("exit", (code, signal) => res({ code, signal })));

  const line = await new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`keyshift serve printed nothing within 20 s; stderr:\n${stderr}`)), 20_000);
    const rl = createInterface({ input: child.stdout });
    rl.once("line", (l) => {
      clearTimeout(timer);
      rl.close();
      res(l);
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      rej(new Error(`keyshift serve exited with ${code} before announcing; stderr:\n${stderr}`));
    });
  });
  const { baseUrl, rootKey } = JSON.parse(line);
  if (!baseUrl || !rootKey) throw new Error(`unexpected announce line (fields: ${Object.keys(JSON.parse(line))})`);
  if (!/^http:\/\/127\.0\.0\.1:\d+/.test(baseUrl)) throw new Error(`server not on loopback: ${baseUrl}`);

  // The official SDK, unchanged: only the server URL and the root key are set.
  const unkey = new Unkey({ serverURL: baseUrl, rootKey });

  async function stop() {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    const { code, signal } = await exited;
    rmSync(dir, { recursive: true, force: true });
    return { code, signal, stderr };
  }
  return { baseUrl, rootKey, unkey, stop, stderrText: () => stderr };
}

/** Runs `fn` and returns the error it throws (fails if it does not throw). */
export async function rejection(fn) {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  throw new Error("expected the call to throw, it succeeded");
}
