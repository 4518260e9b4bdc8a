/**
 * Cases of Kong's declarative unit specs (spec/01-unit/01-db/10-declarative_spec.lua and
 * 01-schema/11-declarative_config/03-flatten_spec.lua "issues") through Sluice's loader.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { runLoad } from './load.ts'
import { flatten } from './flatten.ts'
import { unserialize, type Table } from './parse.ts'
import { entityUuid } from './uuid.ts'

function load (text: string): ReturnType<typeof runLoad> {
  return runLoad({ text, version: 1, respond: true })
}

function fieldsOf (text: string): unknown {
  const r = load(text)
  assert.ok(!r.ok, 'expected a refusal')
  // as the Admin API sends them: JSON (plain objects, holes as null)
  return JSON.parse(JSON.stringify((r.body as { fields: unknown }).fields))
}

test('lyaml null becomes null: a route named null', () => {
  const r = load('_format_version: "1.1"\nroutes:\n  - name: null\n    paths:\n    - /\n')
  assert.ok(r.ok)
  const route = Object.values(JSON.parse(r.body!).routes as Record<string, any>)[0]
  assert.equal(route.name, null)
  assert.deepEqual(route.paths, ['/'])
})

test('ttl: ~ is accepted on a key-auth credential; an empty entity list is accepted', () => {
  const r = load(`_format_version: '2.1'
consumers:
- custom_id: ~
  id: e150d090-4d53-4e55-bff8-efaaccd34ec4
  tags: ~
  username: bar@example.com
services:
keyauth_credentials:
- created_at: 1593624542
  id: 3f9066ef-b91b-4d1d-a05a-28619401c1ad
  tags: ~
  ttl: ~
  key: test
  consumer: e150d090-4d53-4e55-bff8-efaaccd34ec4
`)
  assert.ok(r.ok, JSON.stringify(r.ok ? '' : r.body))
  const cred = JSON.parse(r.body!).keyauth_credentials['3f9066ef-b91b-4d1d-a05a-28619401c1ad']
  assert.equal(cred.ttl, null)
  assert.equal(cred.consumer.id, 'e150d090-4d53-4e55-bff8-efaaccd34ec4')
})

test('#7696: a nested entity\'s own {id} for its parent is checked as a reference', () => {
  assert.deepEqual(fieldsOf(`_format_version: "2.1"
services:
- name: my-service-1
  url: http://localhost:8001/status
  routes:
  - name: my-route-1
    service:
      id: "769bdf51-16df-5476-9830-ef26800b5448"
    paths:
    - /status
`), { routes: { 'my-route-1': ['invalid reference \'service: {"id":"769bdf51-16df-5476-9830-ef26800b5448"}\' (no such entry in \'services\')'] } })
})

test('a nested entity naming an existing entity for its parent key belongs to its parent; an unknown name is "value must be null"', () => {
  const r = load(`_format_version: "3.0"
services:
- name: a
  host: a.test
- name: b
  host: b.test
  routes:
  - name: r
    service: a
    paths: [/]
`)
  assert.ok(r.ok)
  assert.equal(Object.values(JSON.parse(r.body!).routes as Record<string, any>)[0].service.id, entityUuid('services', 'b'))
  assert.deepEqual(fieldsOf(`_format_version: "1.1"
consumers:
- username: consumer
  basicauth_credentials:
  - username: username
    password: password
    consumer: incorrect
`), { consumers: [{ basicauth_credentials: [{ consumer: 'value must be null' }] }] })
})

test('#5920 valid input and #7620 YAML anchors: plugins repeated by alias are distinct entities', () => {
  let r = load(`_format_version: "1.1"

services:
- name: test-service
  routes:
  - paths:
    - /test/path
    plugins:
    - name: key-auth
  url: https://example.com

consumers:
- username: test-user
  basicauth_credentials:
  - username: test-username
    password: test-password
`)
  assert.ok(r.ok)
  r = load(`_format_version: "1.1"
services:
  - name: service1
    url: http://example.com
    plugins:
      - &correlation-plugin
        name: correlation-id
        config:
          header_name: X-Request-Id
          generator: uuid
          echo_downstream: true
      - &rate-limiting-plugin
        name: rate-limiting
        config:
          second: 5
          policy: local
    routes:
      - name: foo
        strip_path: false
        paths:
          - /foo
  - name: service2
    url: http://example.com
    plugins:
      - *correlation-plugin
      - *rate-limiting-plugin
    routes:
      - name: bar
        strip_path: false
        paths:
          - /bar
`)
  assert.ok(r.ok, JSON.stringify(r.ok ? '' : r.body))
  assert.equal(r.counts.plugins, 4)
})

test('missing foreign relationships of a top-level entity: every one reported under its id', () => {
  const fields = fieldsOf(`_format_version: "1.1"
plugins:
  - name: http-log
    service: svc1
    consumer: my-consumer
    config:
      http_endpoint: https://example.com
`) as { plugins: Record<string, string[]> }
  const [msgs] = Object.values(fields.plugins)
  assert.deepEqual([...msgs!].sort(), [
    "invalid reference 'consumer: my-consumer' (no such entry in 'consumers')",
    "invalid reference 'service: svc1' (no such entry in 'services')",
  ])
})

test('errors found after ids exist leave the generated ids in the input (flattened errors name them)', () => {
  const u = unserialize(`_format_version: "3.0"
upstreams:
- name: u
  targets:
  - target: 10.0.0.1:80
  - target: 10.0.0.1:80
`)
  assert.ok(u.ok)
  const r = flatten(u.table)
  assert.ok(!r.ok)
  const up = (u.table.upstreams as any[])[0]
  assert.equal(up.id, entityUuid('upstreams', 'u'))
  assert.equal(up.targets[0].id, up.targets[1].id)
  assert.deepEqual(JSON.parse(JSON.stringify(r.errors)), { upstreams: [{ targets: [null, `uniqueness violation: 'targets' entity with primary key set to '${up.targets[0].id as string}' already declared`] }] })
  // a stage-1 failure leaves the input as it was
  const v = unserialize('_format_version: "3.0"\nservices:\n- name: s\n  port: -1\n')
  assert.ok(v.ok)
  assert.ok(!flatten(v.table).ok)
  assert.equal((v.table.services as any[])[0].id, undefined)
})

test('check_hash: a configuration text compares its hash; a decoded JSON body never answers 304', () => {
  const text = '_format_version: "3.0"\nconsumers:\n- username: a\n'
  const first = load(text)
  assert.ok(first.ok)
  const again = runLoad({ text, version: 2, checkHash: first.hash })
  assert.equal(again.ok ? 201 : again.status, 304)
  const json = JSON.stringify({ _format_version: '3.0', consumers: [{ username: 'a' }] })
  const a = runLoad({ text: json, jsonBody: true, version: 3 })
  assert.ok(a.ok)
  const b = runLoad({ text: json, jsonBody: true, version: 4, checkHash: a.hash })
  assert.ok(b.ok)
  // a JSON body without _format_version is a text of its own (Kong reads the raw body): 304
  const raw = JSON.stringify({ consumers: [] })
  const c = runLoad({ text: raw, jsonBody: true, version: 5, checkHash: 'x' })
  assert.ok(!c.ok && c.status === 400)
})

test('vaults: validated with the env vault\'s schema, id from the prefix; unknown vaults are not installed', () => {
  const r = load('_format_version: "3.0"\nvaults:\n- name: env\n  prefix: my-env\n  description: d\n  config: { prefix: SSL_ }\n  tags: [a]\n')
  assert.ok(r.ok)
  const vaults = JSON.parse(r.body!).vaults as Record<string, any>
  const id = entityUuid('vaults', 'vaults:*:my-env')
  assert.equal(vaults[id].prefix, 'my-env')
  assert.deepEqual(vaults[id].config, { prefix: 'SSL_' })
  assert.deepEqual(fieldsOf('_format_version: "3.0"\nvaults:\n- name: hcv\n  prefix: x-y\n'), { vaults: [{ name: "vault 'hcv' is not installed" }] })
  assert.deepEqual(fieldsOf('_format_version: "3.0"\nvaults:\n- name: env\n  prefix: Bad\n  config: { prefix: "1a", other: 1 }\n'),
    { vaults: [{ prefix: 'invalid value: Bad', config: { prefix: 'invalid value: 1a', other: 'unknown field' } }] })
  assert.deepEqual(fieldsOf('_format_version: "3.0"\nvaults:\n- name: env\n  prefix: a-b\n- name: env\n  prefix: a-b\n'),
    { vaults: [null, "uniqueness violation: 'vaults' entity with prefix set to 'a-b' already declared"] })
})

test('a nested entity\'s other foreign keys: an existing name is resolved, an unknown one is "value must be null"', () => {
  const plugin = '  plugins:\n  - name: rate-limiting\n    config: { second: 1 }\n    consumer: foo\n'
  assert.deepEqual(fieldsOf(`_format_version: "1.1"\nservices:\n- name: foo\n  url: https://example.com\n${plugin}`),
    { services: [{ plugins: [{ consumer: 'value must be null' }] }] })
  const r = load(`_format_version: "1.1"\nconsumers:\n- username: foo\nservices:\n- name: foo\n  url: https://example.com\n${plugin}`)
  assert.ok(r.ok)
  const p = Object.values(JSON.parse(r.body!).plugins as Record<string, any>)[0]
  assert.equal(p.consumer.id, entityUuid('consumers', 'foo'))
  assert.equal(p.service.id, entityUuid('services', 'foo'))
  // key-auth cannot be given a consumer at all (its own schema)
  assert.deepEqual(fieldsOf('_format_version: "1.1"\nconsumers:\n- username: foo\nservices:\n- name: foo\n  url: https://example.com\n  plugins:\n  - name: key-auth\n    consumer: foo\n'),
    { services: [{ plugins: [{ consumer: 'value must be null' }] }] })
})

test('top-level keys: _format_version a string of 1.1, 2.1 or 3.0; _comment a string; _ignore an array', () => {
  assert.deepEqual(fieldsOf('_format_version: 1.1\n'), { _format_version: 'expected a string' })
  assert.deepEqual(fieldsOf('_format_version: "foobar"\n'), { _format_version: 'expected one of: 1.1, 2.1, 3.0' })
  assert.deepEqual(fieldsOf('_format_version: "1.1"\n_comment: 1234\n'), { _comment: 'expected a string' })
  assert.deepEqual(fieldsOf('_format_version: "1.1"\n_comment:\n  foo: bar\n'), { _comment: 'expected a string' })
  assert.deepEqual(fieldsOf('_format_version: "1.1"\n_ignore: 1234\n'), { _ignore: 'expected an array' })
  assert.deepEqual(fieldsOf('_format_version: "1.1"\n_ignore:\n  foo: bar\n  bla: 123\n'), { _ignore: 'expected an array' })
  assert.ok(load('_format_version: "2.1"\n_comment: I am a happy comment!\n_ignore:\n- foo: bar\n  bla: 123\n- "Hello, world"\n- 1234\n').ok)
  for (const p of ['BANANA_', 'BANANA-']) {
    assert.ok(load(`_format_version: "1.1"\nvaults:\n- prefix: aba\n  config:\n    prefix: "${p}"\n  description: "Banana vault"\n  tags: ~\n  name: env\n`).ok)
  }
})

test('parameters (in every `kong config db_export` file) are validated and left out', () => {
  const r = load('_format_version: "3.0"\n_transform: false\nparameters:\n- created_at: ~\n  key: cluster_id\n  value: 2c2a4ef6-5a14-4bf8-9a8d-c2a4d3e8a3b1\nservices:\n- name: s\n  host: h\n')
  assert.ok(r.ok)
  assert.equal(r.total, 1)
  assert.deepEqual(Object.keys(JSON.parse(r.body!)), ['services'])
  assert.deepEqual(fieldsOf('_format_version: "3.0"\nparameters:\n- key: 1\n- key: a\n  value: b\n  other: 1\n- key: k\n  value: v\n- key: k\n  value: w\n- 3\n'), {
    parameters: [
      { key: 'expected a string', value: 'required field missing' },
      { other: 'unknown field' },
      null,
      "uniqueness violation: 'parameters' entity with key set to 'k' already declared",
      'expected a record',
    ],
  })
  assert.deepEqual(fieldsOf('_format_version: "3.0"\nparameters: x\n'), { parameters: 'expected an array' })
})

test('key_sets and keys (Kong exports them): JWK or PEM keys validated, nested or by reference; left out of the workers snapshot', () => {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 })
  const other = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const jwk = JSON.stringify({ ...publicKey.export({ format: 'jwk' }), kid: 'k1' })
  const pub = publicKey.export({ type: 'spki', format: 'pem' }) as string
  const priv = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string
  const ok = runLoad({
    version: 1,
    respond: true,
    table: {
      _format_version: '3.0',
      key_sets: [{ name: 'ks', keys: [{ kid: 'k1', name: 'jwk-key', jwk }] }],
      keys: [{ kid: 'k2', name: 'pem-key', set: 'ks', pem: { public_key: pub, private_key: priv } }],
    } as unknown as Table,
  })
  assert.ok(ok.ok, JSON.stringify(ok.ok ? '' : ok.body))
  const body = JSON.parse(ok.body!)
  const setId = entityUuid('key_sets', 'ks')
  assert.deepEqual(Object.values(body.keys as Record<string, any>).map((k) => [k.kid, k.set.id]).sort(), [['k1', setId], ['k2', setId]])
  assert.equal(body.keys[entityUuid('keys', `keys:*:k1:${setId}`)].name, 'jwk-key')
  const bad = runLoad({
    version: 1,
    table: {
      _format_version: '3.0',
      keys: [
        { kid: 'k3', jwk: JSON.stringify({ kty: 'RSA', kid: 'zz' }) },
        { kid: 'k4', pem: { public_key: other.publicKey.export({ type: 'spki', format: 'pem' }), private_key: priv } },
        { kid: 'k5' },
        { kid: 'k6', pem: {} },
        { kid: 'k7', jwk: '{' },
        { kid: 'k8', jwk: JSON.stringify({ kty: 'RSA', kid: 'k8', n: 'AQAB' }) },
      ],
    } as unknown as Table,
  })
  assert.ok(!bad.ok)
  assert.deepEqual(JSON.parse(JSON.stringify((bad.body as { fields: unknown }).fields)), {
    keys: [
      { '@entity': ['kid in jwk.kid must be equal to keys.kid'] },
      { pem: 'public key does not match private key' },
      { '@entity': ["at least one of these fields must be non-empty: 'jwk', 'pem'"] },
      { pem: { '@entity': ["at least one of these fields must be non-empty: 'private_key', 'public_key'"] } },
      { '@entity': ['could not json decode jwk string'] },
      { '@entity': ['could not load JWK, likely not a valid key'] },
    ],
  })
  const dangling = fieldsOf(`_format_version: "3.0"\nkeys:\n- kid: k9\n  name: n9\n  set: nope\n  jwk: '${JSON.stringify({ ...publicKey.export({ format: 'jwk' }), kid: 'k9' })}'\n`)
  assert.deepEqual(dangling, { keys: { n9: ["invalid reference 'set: nope' (no such entry in 'key_sets')"] } })
})

test('a decoded body\'s `flatten_errors` and `check_hash` are request options, not entities', () => {
  const body = JSON.stringify({ _format_version: '3.0', flatten_errors: true, check_hash: 1, consumers: [{ username: 'a' }] })
  const r = runLoad({ text: body, jsonBody: true, version: 1 })
  assert.ok(r.ok, JSON.stringify(r.ok ? '' : r.body))
  const t = runLoad({ table: { _format_version: '3.0', check_hash: '1' } as unknown as Table, version: 2 })
  assert.ok(t.ok)
  // a configuration text is read as it is
  assert.deepEqual(fieldsOf('_format_version: "3.0"\ncheck_hash: 1\n'), { check_hash: 'unknown field' })
})
