/**
 * Kong's spec/01-unit/23-vaults_spec.lua (is_reference, parse_reference, get) and
 * spec/02-integration/13-vaults/02-env_vault_spec.lua (the env vault), against Sluice's
 * src/vault: parsing, the env vault's naming (prefix, `-` as `_`, upper case, `_PREVIOUS` for
 * version 2), JSON keys, vault entities by prefix, and what cannot be resolved.
 */
import { afterEach, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { isReference, parseReference } from '../../../src/vault/reference.ts'
import { VaultResolver } from '../../../src/vault/resolve.ts'
import { REFS_KEY, resolveRow, restoreRow } from '../../../src/vault/refs.ts'
import { getSchema } from '../../../src/db/schema/registry.ts'

const set: string[] = []
function setenv (k: string, v: string): void { process.env[k] = v; set.push(k) }
afterEach(() => { for (const k of set.splice(0)) delete process.env[k] })

describe('is_reference', () => {
  const cases: Record<string, boolean> = {
    '{vault://x/x}': true,
    '{vault://x/xx}': true,
    '{vault://xx/xx-x}': true,
    '{vault://xxx/xx-x}': true,
    '{vault://;/xx-x}': true,
    'vault:/xx-x}': false,
    '{vault:/xx-x': false,
    'vault:/xx-x': false,
    '{valut:/xx-x}': false,
    '{vault:/xx-x}': false,
  }
  for (const [ref, want] of Object.entries(cases)) {
    test(`${ref} -> ${want}`, () => { assert.equal(isReference(ref), want) })
  }
  test('only strings', () => { assert.equal(isReference(42), false); assert.equal(isReference(null), false) })
})

describe('parse_reference', () => {
  const parsed = (ref: string): unknown => {
    const r = parseReference(ref)
    assert.ok(r.ok, r.ok ? '' : r.error)
    return r.value
  }
  const failed = (ref: string): string => {
    const r = parseReference(ref)
    assert.ok(!r.ok)
    return r.error
  }
  test('init', () => { assert.deepEqual(parsed('{vault://env/test}'), { name: 'env', resource: 'test' }) })
  test('a path with only slashes does not work', () => {
    assert.equal(failed('{vault://env}'), 'reference url is missing path [{vault://env}]')
    assert.equal(failed('{vault://env/}'), 'reference url has empty path [{vault://env/}]')
    assert.equal(failed('{vault://env/////}'), 'reference url has invalid path [{vault://env/////}]')
  })
  test('nested path: resource and key', () => {
    assert.deepEqual(parsed('{vault://env/test-secret/test-key}'), { name: 'env', resource: 'test-secret', key: 'test-key' })
  })
  test('nested path is url decoded', () => {
    assert.deepEqual(parsed('{vault://env/test%3Asecret/test%3Akey}'), { name: 'env', resource: 'test:secret', key: 'test:key' })
  })
  test('consecutive slashes are ignored', () => {
    assert.deepEqual(parsed('{vault://env//////test-secret//////test-key}'), { name: 'env', resource: 'test-secret', key: 'test-key' })
  })
  test('a path ending with a slash is all resource', () => {
    assert.deepEqual(parsed('{vault://env/test-secret/test-key/}'), { name: 'env', resource: 'test-secret/test-key' })
    assert.deepEqual(parsed('{vault://env//////test-secret//////test-key//////}'), { name: 'env', resource: 'test-secret/test-key' })
  })
  test('options', () => {
    assert.deepEqual(parsed('{vault://env/test?opt1=val1}'), { name: 'env', resource: 'test', config: { opt1: 'val1' } })
    assert.deepEqual(parsed('{vault://env/test?opt1=val1&opt2=val2}'), { name: 'env', resource: 'test', config: { opt1: 'val1', opt2: 'val2' } })
  })
  test('version', () => {
    assert.deepEqual(parsed('{vault://env/test#1}'), { name: 'env', resource: 'test', version: 1 })
    assert.equal(failed('{vault://env/test#x}'), 'reference url has invalid version [{vault://env/test#x}]')
  })
  test('not a reference', () => { assert.equal(failed('vault://env/x'), 'not a reference [vault://env/x]') })
  test('missing host', () => { assert.equal(failed('{vault:///x}'), 'reference url is missing host [{vault:///x}]') })
})

describe('env vault (get)', () => {
  const r = new VaultResolver([])
  test('test_secrets -> TEST_SECRETS', () => {
    setenv('TEST_SECRETS', 'test_value')
    assert.deepEqual(r.get('{vault://env/test_secrets}'), { ok: true, value: 'test_value' })
  })
  test('an empty value is a value', () => {
    setenv('TEST_ENV_EMPTY', '')
    assert.deepEqual(r.get('{vault://env/test_env_empty}'), { ok: true, value: '' })
  })
  test('undefined', () => {
    delete process.env.TEST_ENV_NA
    const d = r.get('{vault://env/test_env_na}')
    assert.ok(!d.ok)
    assert.match(d.error, /could not get value from external vault/)
  })
  test('prefix from the reference (underscore, dash)', () => {
    setenv('TEST_ENV', 'test')
    assert.deepEqual(r.get('{vault://env/env?prefix=test_}'), { ok: true, value: 'test' })
    assert.deepEqual(r.get('{vault://env/env?prefix=test-}'), { ok: true, value: 'test' })
  })
  test('an invalid prefix option is ignored', () => {
    setenv('ENV', 'plain')
    assert.deepEqual(r.get('{vault://env/env?prefix=1bad}'), { ok: true, value: 'plain' })
  })
  test('json keys', () => {
    setenv('TEST_ENV_JSON', '{"username":"user", "password":"pass", "n": 1}')
    assert.deepEqual(r.get('{vault://env/test_env_json/username}'), { ok: true, value: 'user' })
    assert.deepEqual(r.get('{vault://env/test_env_json/password}'), { ok: true, value: 'pass' })
    const missing = r.get('{vault://env/test_env_json/other}')
    assert.ok(!missing.ok)
    assert.match(missing.error, /subfield other not found in JSON secret/)
    const num = r.get('{vault://env/test_env_json/n}')
    assert.ok(!num.ok)
    assert.match(num.error, /unexpected number value in JSON secret for subfield n/)
  })
  test('version 2 reads <NAME>_PREVIOUS', () => {
    setenv('ROTATED', 'new')
    setenv('ROTATED_PREVIOUS', 'old')
    assert.deepEqual(r.get('{vault://env/rotated#2}'), { ok: true, value: 'old' })
    assert.deepEqual(r.get('{vault://env/rotated#1}'), { ok: true, value: 'new' })
  })
})

describe('vault entities by prefix', () => {
  const r = new VaultResolver([
    { prefix: 'my-env', name: 'env', config: { prefix: 'SSL_' } },
    { prefix: 'plain-env', name: 'env', config: null },
  ])
  test('the entity\'s config applies; the reference\'s options override it', () => {
    setenv('SSL_CERT', 'pem')
    setenv('OTHER_CERT', 'other')
    setenv('CERT', 'bare')
    assert.deepEqual(r.get('{vault://my-env/cert}'), { ok: true, value: 'pem' })
    assert.deepEqual(r.get('{vault://my-env/cert?prefix=other_}'), { ok: true, value: 'other' })
    assert.deepEqual(r.get('{vault://plain-env/cert}'), { ok: true, value: 'bare' })
  })
  test('an unknown prefix', () => {
    assert.deepEqual(r.get('{vault://unknown/cert}'), { ok: false, error: 'could not find vault (unknown)' })
  })
})

describe('rows: referenceable fields only, restored as stored', () => {
  test('a certificate row: cert and key dereferenced, unresolvable ones become ""', () => {
    setenv('CERT_PEM', 'CERT')
    setenv('KEY_PEM', 'KEY')
    const row = { id: 'x', cert: '{vault://env/cert-pem}', key: '{vault://env/key-pem}', cert_alt: '{vault://unknown/cert}', key_alt: null, tags: ['{vault://env/cert-pem}'] }
    const errors: string[] = []
    const resolver = new VaultResolver([])
    const out = resolveRow(getSchema('certificates')!, row, (ref) => resolver.get(ref), (ref) => errors.push(ref))
    assert.equal(out.cert, 'CERT')
    assert.equal(out.key, 'KEY')
    assert.equal(out.cert_alt, '')
    assert.deepEqual(out.tags, ['{vault://env/cert-pem}']) // tags are not referenceable
    assert.deepEqual(errors, ['{vault://unknown/cert}'])
    assert.ok(Array.isArray(out[REFS_KEY]))
    assert.equal(row.cert, '{vault://env/cert-pem}') // the input is not changed
    assert.deepEqual(restoreRow(out), row)
  })
  test('a plugin row: nested records and map values of its config', () => {
    setenv('LOG_TOKEN', 'Bearer t')
    setenv('LOG_URL', 'http://collector.test/log')
    const row = {
      id: 'p',
      name: 'http-log',
      config: { http_endpoint: '{vault://env/log-url}', headers: { Authorization: '{vault://env/log_token}', Other: 'x' }, content_type: 'application/json' },
    }
    const resolver = new VaultResolver([])
    const out = resolveRow(getSchema('plugins')!, row, (ref) => resolver.get(ref)) as typeof row
    assert.equal(out.config.http_endpoint, 'http://collector.test/log')
    assert.deepEqual(out.config.headers, { Authorization: 'Bearer t', Other: 'x' })
    assert.deepEqual(restoreRow(out), row)
  })
  test('a row without references is returned as is', () => {
    const row = { id: 'p', name: 'cors', config: { origins: ['{vault://env/x}'] } }
    assert.equal(resolveRow(getSchema('plugins')!, row, () => ({ ok: true, value: 'no' })), row)
  })
})
