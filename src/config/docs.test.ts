import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { spliceReadme } from '../../scripts/config-docs.ts'

test('README configuration reference matches src/config/defaults.ts (regenerate: node --import tsx scripts/config-docs.ts --write)', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
  assert.equal(spliceReadme(readme), readme)
})
