/**
 * PCRE route regexes translated to JS: what compiles, what the translation becomes, and the
 * PCRE2-worded errors for invalid ones.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { translatePcre } from './pcre.ts'

function js (p: string): RegExp {
  const t = translatePcre(p)
  assert.ok(t.ok, `${p}: ${t.ok ? '' : t.error}`)
  return new RegExp(`^(?:${t.source})`, t.flags)
}

function err (p: string): string {
  const t = translatePcre(p)
  assert.ok(!t.ok, `${p} should not compile`)
  return t.error
}

test('pcre: common route regexes match as they do in Kong', () => {
  assert.ok(js('/users/\\d+/profile$').test('/users/42/profile'))
  assert.ok(!js('/users/\\d+/profile$').test('/users/x/profile'))
  assert.equal(js('/v(?<ver>\\d+)/').exec('/v2/x')?.groups?.ver, '2')
  assert.equal(js('/v(?P<ver>\\d+)/').exec('/v3/x')?.groups?.ver, '3')
  assert.ok(js('/(?P<w>ab)/(?P=w)').test('/ab/ab'))
  assert.ok(js('(?i)/ABC').test('/abc'))
  assert.ok(js('/a{2}[[:digit:]]+').test('/aa12'))
  assert.ok(js('/\\Qa.b\\E').test('/a.b') && !js('/\\Qa.b\\E').test('/axb'))
  assert.ok(js('/\\Qab\\E+').test('/abbb'))
  assert.ok(js('/x{').test('/x{'))
  assert.ok(js('/a++b').test('/aab'))
  assert.ok(js('/(?>a|b)c').test('/bc'))
  assert.ok(js('/\\x41\\x{42}\\103').test('/ABC'))
  assert.ok(js('/[\\w-]+\\.json').test('/a-b.json'))
  assert.ok(js('/caf\\p{L}').test('/café'))
  assert.ok(js('\\A/a\\z').test('/a'))
  assert.ok(js('/(a)\\1').test('/aa'))
  assert.ok(js('/(?#comment)x').test('/x'))
})

test('pcre: invalid regexes give PCRE2-style errors naming the pattern', () => {
  assert.equal(err('/users/(foo/profile'), 'pcre2_compile() failed: missing closing parenthesis in "/users/(foo/profile"')
  assert.equal(err('/a)'), 'pcre2_compile() failed: unmatched closing parenthesis in "/a)"')
  assert.equal(err('*a'), 'pcre2_compile() failed: quantifier does not follow a repeatable item in "*a"')
  assert.equal(err('/[a-'), 'pcre2_compile() failed: missing terminating ] for character class in "/[a-"')
  assert.equal(err('/\\'), 'pcre2_compile() failed: \\ at end of pattern in "/\\"')
  assert.equal(err('/a{3,1}'), 'pcre2_compile() failed: numbers out of order in {} quantifier in "/a{3,1}"')
  assert.equal(err('/[z-a]'), 'pcre2_compile() failed: range out of order in character class in "/[z-a]"')
  assert.equal(err('/\\2(a)'), 'pcre2_compile() failed: reference to non-existent subpattern in "/\\2(a)"')
  assert.match(err('/(?R)'), /unsupported group construct/)
  assert.match(err('/a(?i)b'), /only supported at the start/)
  assert.match(err('/\\K'), /not supported/)
})

test('pcre: hostile patterns fail cleanly and fast', () => {
  const started = Date.now()
  assert.match(err('('.repeat(200_000)), /failed/)
  assert.ok(translatePcre('[' + 'a'.repeat(100_000) + ']').ok)
  assert.match(err('\\x{' + 'f'.repeat(50) + '}'), /failed/)
  assert.ok(Date.now() - started < 5000)
})
