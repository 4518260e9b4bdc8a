import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { spliceReadme } from '../../scripts/config-docs.ts'

test('README configuration reference matches src/config/defaults.ts (regenerate: node --import tsx scripts/config-docs.ts --write)', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
  const want = spliceReadme(readme)
  if (want === readme) return
  // Name the first line that differs: assert.equal's diff of two whole READMEs takes minutes.
  const a = readme.split('\n')
  const b = want.split('\n')
  let i = 0
  while (i < a.length && i < b.length && a[i] === b[i]) i++
  assert.fail(`README.md's configuration reference is out of date at line ${i + 1}:\n  README: ${a[i] ?? '(end)'}\n  wanted: ${b[i] ?? '(end)'}\nregenerate: node --import tsx scripts/config-docs.ts --write`)
})
