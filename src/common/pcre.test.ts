/**
 * The shared translator's two dialects: what each accepts, and what Rust reads differently from
 * PCRE (refused in 'rust' rather than mistranslated). Error wording is the callers' business
 * (db/schema/pcre.test.ts, router/regex.test.ts).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { translateToJs, type RegexDialect } from './pcre.ts'

function ok (p: string, dialect: RegexDialect): RegExp {
  const t = translateToJs(p, dialect)
  assert.ok(t.ok, `${p} (${dialect}): ${t.ok ? '' : t.error}`)
  return new RegExp(`^(?:${t.source})`, t.flags)
}

test('pcre: both dialects share escapes, anchors and classes', () => {
  for (const d of ['pcre', 'rust'] as const) {
    assert.ok(ok('/\\x{41}\\pL[[:digit:]]+[]a]', d).test('/Aé1]'))
    assert.ok(ok('(?m)\\A/a\\z', d).test('/a') && !ok('(?m)\\A/a\\z', d).test('/a\n'))
    assert.ok(ok('/\\Qa.b\\E', d).test('/a.b'))
  }
})

test('pcre: dialect-only syntax', () => {
  assert.ok(ok('(?u)/\\u0041\\u{42}', 'rust').test('/AB'))
  assert.ok(!translateToJs('(?u)/a', 'pcre').ok && !translateToJs('/\\u0041', 'pcre').ok)
  for (const p of ['(?x)/a b', '/[a-z&&[^x]]', '/[a[b]', '/(?>a)', '/a++', '/(?#c)', '/(?P<n>a)(?P=n)', '(?U)/a']) {
    assert.ok(translateToJs(p, 'pcre').ok || p === '(?U)/a', p)
    assert.ok(!translateToJs(p, 'rust').ok, p)
  }
})
