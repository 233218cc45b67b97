// Writes the README's React example (the ```tsx block of "## Self-service portal") to
// types/readme-example.tsx, for tsc --strict with the element's React typing.
import { readFileSync, writeFileSync } from 'node:fs'
import { join, dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const readme = readFileSync(resolve(here, '..', '..', '..', 'README.md'), 'utf8')
const section = readme.split(/^## /m).find((s) => s.startsWith('Self-service portal'))
if (!section) throw new Error('README has no "Self-service portal" section')
const m = /```tsx\n([\s\S]*?)```/.exec(section)
if (!m) throw new Error('the Self-service portal section has no ```tsx block')
writeFileSync(join(here, 'readme-example.tsx'), m[1])
