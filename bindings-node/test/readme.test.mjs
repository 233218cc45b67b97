// The README's TypeScript example, as written: extracted from README.md, compiled with
// `tsc --strict` and run against a real `keyshift serve` (via KEYSHIFT_BASE_URL/ROOT_KEY).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startServer, REPO } from './helpers.mjs'

const run = promisify(execFile)
const PKG = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const WORK = join(PKG, 'test', '.readme')

let server
before(async () => { server = await startServer() })
after(async () => {
  await server?.stop()
  rmSync(WORK, { recursive: true, force: true })
})

function readmeExample() {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8')
  const section = readme.split(/^## /m).find((s) => s.startsWith('Node / TypeScript'))
  assert.ok(section, 'README has a "Node / TypeScript" section')
  const m = /```ts\n([\s\S]*?)```/.exec(section)
  assert.ok(m, 'the section has a ```ts block')
  return m[1]
}

test('README TypeScript example type-checks with --strict and runs as written', async () => {
  mkdirSync(WORK, { recursive: true })
  // Inside the package, so `import ... from 'keyshift'` resolves to this package (self-reference).
  writeFileSync(join(WORK, 'example.mts'), readmeExample())
  const tsc = join(PKG, 'node_modules', 'typescript', 'bin', 'tsc')
  await run(process.execPath, [tsc, '--strict', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext',
    '--types', 'node', '--rootDir', WORK, '--outDir', join(WORK, 'out'), join(WORK, 'example.mts')], { cwd: PKG })
    .catch((e) => assert.fail(`tsc refused the README example:\n${e.stdout}${e.stderr}`))
  const env = { ...process.env, KEYSHIFT_BASE_URL: server.baseUrl, KEYSHIFT_ROOT_KEY: server.rootKey }
  const { stdout } = await run(process.execPath, [join(WORK, 'out', 'example.mjs')], { env, cwd: PKG })
  const lines = stdout.trim().split('\n')
  assert.match(lines[0], /^CreatedKey\(key_\w+, sk_live_…\w{4}\)$/)
  assert.match(lines[1], /^key_\w+ customer_42 /)
  assert.ok(lines.includes('1000 keys migrated'), stdout)
  assert.ok(lines.includes('true true'), stdout)
  assert.match(lines.at(-1), /^not_found 404 req_\w+$/)
})
