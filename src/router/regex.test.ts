import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { compileHeaderRegex, compilePathRegex, literalPrefix, translateRegex } from './regex.ts'

describe('regex: Rust syntax to JS', () => {
  it('named groups: (?P<n>...) and (?<n>...)', () => {
    const r = compilePathRegex('/users/(?P<id>\\d+)/(?<tab>[a-z]+)')
    assert.ok(typeof r !== 'string')
    assert.deepEqual({ ...r.re.exec('/users/12/posts')?.groups }, { id: '12', tab: 'posts' })
  })
  it('anchors at the start only, as "^" .. path (later alternation branches stay unanchored)', () => {
    const r = compilePathRegex('/a|/b')
    assert.ok(typeof r !== 'string')
    assert.equal(r.re.test('/x/a'), false)
    assert.equal(r.re.test('/x/b'), true)
    assert.equal(r.literalPrefix, '')
  })
  it('leading inline flags become RegExp flags; others are refused', () => {
    const r = compilePathRegex('(?i)/abc')
    assert.ok(typeof r !== 'string')
    assert.equal(r.re.test('/ABC'), true)
    assert.equal(typeof compilePathRegex('/a(?i:b)'), 'string')
    assert.equal(typeof compilePathRegex('(?x)/a b'), 'string')
  })
  it('\\A, \\z, \\pL, POSIX classes and a leading ] in a class', () => {
    const t = translateRegex('\\A/x[[:digit:]]+\\pL[]a]\\z')
    assert.ok(typeof t !== 'string')
    const re = new RegExp(t.source, 'u')
    assert.equal(re.test('/x12é]'), true)
    assert.equal(re.test('/x12éa!'), false)
  })
  it('invalid or unsupported patterns are errors, not throws', () => {
    for (const p of ['/(unclosed', '/[a', '/[a-z&&[^x]]', '/[[:nope:]]']) assert.equal(typeof compilePathRegex(p), 'string', p)
  })
  it('look-around and back-references are errors, as Rust\'s regex crate has neither', () => {
    for (const p of ['/a(?=b)', '/a(?!b)', '/(?<=a)b', '/(?<!a)b', '/(a)\\1', '/(?P<x>a)(?P=x)', '/(?<x>a)\\k<x>']) {
      assert.equal(typeof compilePathRegex(p), 'string', p)
    }
    for (const p of ['/[(?=]x', '/\\(?=x', '/(?P<id>\\d+)', '/(?<id>\\d+)']) {
      assert.notEqual(typeof compilePathRegex(p), 'string', p)
    }
  })
  it('Rust (Unicode mode): \\d \\w \\s \\b are Unicode-aware; `.` stops at \\n only; POSIX classes stay ASCII', () => {
    const re = (p: string): RegExp => { const r = compilePathRegex(p); assert.ok(typeof r !== 'string', String(r)); return r.re }
    assert.equal(re('/n/\\d+$').test('/n/\u0661\u0662'), true) // Arabic-Indic digits are Nd
    assert.equal(re('/n/\\D$').test('/n/\u0661'), false)
    assert.equal(re('/w/\\w+$').test('/w/caf\u00e9\u0301'), true)
    assert.equal(re('/w/[\\w-]+$').test('/w/\u00e9t\u00e9-x'), true)
    assert.equal(re('/w/\\W$').test('/w/\u00e9'), false)
    assert.equal(re('/s/a\\sb$').test('/s/a\u0085b'), true) // NEL is White_Space
    assert.equal(re('/s/\\S$').test('/s/\u0085'), false)
    assert.equal(re('/b/\\bx').test('/b/x'), true)
    assert.equal(re('/b/\u00e9\\bx').test('/b/\u00e9x'), false) // é is a word character
    assert.equal(re('/b/\u00e9\\Bx').test('/b/\u00e9x'), true)
    assert.equal(re('/dot/.$').test('/dot/\r'), true)
    assert.equal(re('/dot/.$').test('/dot/\n'), false)
    assert.equal(re('(?s)/dot/.$').test('/dot/\n'), true)
    assert.equal(re('/p/[[:digit:]]$').test('/p/\u0661'), false)
    assert.equal(re('/e/\\\\d$').test('/e/\\d'), true) // an escaped backslash, then `d`
    assert.equal(re('/c/[\\d.]+$').test('/c/1.\u0662'), true) // `.` in a class is a dot
    assert.equal(re('/c/[\\d.]+$').test('/c/1x'), false)
  })
  it('header regexes are lower-cased like Lua string.lower and unanchored', () => {
    const re = compileHeaderRegex('Windows|LINUX')
    assert.ok(typeof re !== 'string')
    assert.equal(re.test('x11; linux x86_64'), true)
  })
})

describe('regex: literal prefix', () => {
  const cases: Array<[string, string, string]> = [
    ['/users/\\d+', '', '/users/'], ['/route/(fixture)', '', '/route/'], ['/ab?c', '', '/a'],
    ['/ab+c', '', '/ab'], ['/a.b', '', '/a'], ['/a\\.b\\/c', '', '/a.b/c'], ['/x{2}', '', '/'],
    ['/[0]?route', '', '/'], ['/abc', 'i', ''], ['/abc', 'm', ''], ['/a|/b', '', ''], ['/é/x', '', '/é/x'],
  ]
  for (const [source, flags, expected] of cases) {
    it(`${source} (${flags || 'no flags'}) -> ${JSON.stringify(expected)}`, () => {
      assert.equal(literalPrefix(source, flags), expected)
    })
  }
})
