// Shared by the test files: a real `keyshift serve` on a free loopback port with a temporary
// database (one per test file), and small assertions helpers. Importing it does not load the
// addon (only `serverWithApi` does), so suites without the binding can use `startServer` too.
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve, dirname } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const HERE = dirname(fileURLToPath(import.meta.url))
export const REPO = resolve(HERE, '..', '..')

export function keyshiftBin() {
  const bin = process.env.KEYSHIFT_BIN || join(REPO, 'target', 'debug', 'keyshift')
  if (!existsSync(bin)) throw new Error(`keyshift binary not found at ${bin}; run \`cargo build -p keyshift-cli\` or set KEYSHIFT_BIN`)
  return bin
}

export function tempDir(tag = 'node') {
  return mkdtempSync(join(tmpdir(), `keyshift-${tag}-`))
}

/** Starts `keyshift serve --db <tmp> --listen 127.0.0.1:0 --json` (plus `extraArgs`); returns {baseUrl, rootKey, dir, stop}. */
export async function startServer(extraArgs = []) {
  const dir = tempDir('serve')
  const env = { ...process.env }
  delete env.KEYSHIFT_ROOT_KEY
  delete env.UNKEY_ROOT_KEY
  const child = spawn(keyshiftBin(), ['serve', '--db', join(dir, 'k.db'), '--listen', '127.0.0.1:0', '--json', ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  })
  let stderr = ''
  child.stderr.on('data', (d) => { stderr += d.toString() })
  const exited = new Promise((res) => child.once('exit', (code, signal) => res({ code, signal })))
  const line = await new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`keyshift serve printed nothing in 20 s:\n${stderr}`)), 20_000)
    const rl = createInterface({ input: child.stdout })
    rl.once('line', (l) => { clearTimeout(timer); rl.close(); res(l) })
    child.once('exit', (code) => { clearTimeout(timer); rej(new Error(`keyshift serve exited with ${code}:\n${stderr}`)) })
  })
  const { baseUrl, rootKey } = JSON.parse(line)
  if (!/^http:\/\/127\.0\.0\.1:\d+/.test(baseUrl)) throw new Error(`server not on loopback: ${baseUrl}`)
  async function stop() {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    await exited
    rmSync(dir, { recursive: true, force: true })
  }
  return { baseUrl, rootKey, dir, stop }
}

/** A started server, a `Client` over HTTP to it and a new api named `name` (server stopped if
 * the api cannot be made). */
export async function serverWithApi(name) {
  const { Client } = await import('../index.mjs')
  const server = await startServer()
  try {
    const client = new Client({ baseUrl: server.baseUrl, rootKey: server.rootKey })
    const { apiId } = await client.createApi(name)
    return { server, client, apiId }
  } catch (e) {
    await server.stop()
    throw e
  }
}

/** The error `fn` rejects with (fails when it resolves). */
export async function rejection(fn) {
  try {
    await fn()
  } catch (e) {
    return e
  }
  throw new Error('expected a rejection, the call succeeded')
}

/** Watches the event loop with a `setInterval` every `ms`: `ticks()` counts the ticks so far,
 *  `maxGap()` is the longest time between two of them, `stop()` clears the interval. */
export function loopWatch(ms) {
  let ticks = 0
  let maxGap = 0
  let last = performance.now()
  const timer = setInterval(() => {
    const now = performance.now()
    maxGap = Math.max(maxGap, now - last)
    last = now
    ticks++
  }, ms)
  return { ticks: () => ticks, maxGap: () => maxGap, stop: () => clearInterval(timer) }
}
