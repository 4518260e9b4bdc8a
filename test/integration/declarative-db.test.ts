/**
 * Declarative config against a real PostgreSQL: `db_import` (one transaction, batched, one
 * `reload` cluster event), re-import keeping ids, all-or-nothing on a file the database refuses,
 * export -> import into an empty database -> export giving back the same file, the CLI commands
 * as separate processes, and `/config` answering 400 in DB mode.
 */
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { flat, testDatabases } from '../helpers/declarative.ts'
import { startGateway } from '../helpers/gateway.ts'
import { importIntoDb } from '../../src/declarative/db-import.ts'
import { exportFromDb } from '../../src/declarative/db-export.ts'
import { toYaml } from '../../src/declarative/export.ts'
import { DbError } from '../../src/db/schema/db-errors.ts'

const BIN = new URL('../../bin/sluice.mjs', import.meta.url).pathname
const dirs: string[] = []
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }) })
const db = testDatabases()

import { CA_CERT, RSA_CERT as CERT, RSA_KEY as KEY } from './admin-fixtures.ts'

const indent = (s: string, n: number): string => s.trim().split('\n').map((l) => ' '.repeat(n) + l).join('\n')

const CONFIG = `
_format_version: "3.0"
_comment: every kind of entity
services:
- name: svc
  url: https://example.com:8443/base
  tags: [a, b]
  routes:
  - name: r1
    paths: [/one]
    methods: [GET]
    headers: { x-env: [prod] }
    plugins:
    - name: cors
      config: { origins: ["*"] }
  plugins:
  - name: rate-limiting
    config: { minute: 10, policy: local }
routes:
- name: r2
  service: svc
  hosts: [example.test]
consumers:
- username: alice
  custom_id: c-1
  keyauth_credentials:
  - key: alice-key
  basicauth_credentials:
  - username: alice
    password: secret
  acls:
  - group: admins
  hmacauth_credentials:
  - username: alice-hmac
    secret: s
  jwt_secrets:
  - key: alice-jwt
    secret: js
- username: bob
  keyauth_credentials:
  - key: bob-key
    ttl: 4102444800
plugins:
- name: key-auth
  route: r2
- name: request-termination
  consumer: bob
  service: svc
  config: { status_code: 403 }
upstreams:
- name: up
  targets:
  - target: 10.0.0.1:81
    weight: 50
  - target: 10.0.0.2
certificates:
- cert: |
${indent(CERT, 4)}
  key: |
${indent(KEY, 4)}
  snis:
  - name: a.example.test
  - name: b.example.test
ca_certificates:
- cert: |
${indent(CA_CERT, 4)}
`

test('db_import writes everything in one transaction with one reload event; re-import keeps ids', async () => {
  const d = await db()
  const f = flat(CONFIG)
  const before = Number((await d.pool.query('select count(*) from cluster_events')).rows[0].count)
  const r = await importIntoDb(d.pool, f, null)
  assert.equal(r.rows, f.count)
  const events = (await d.pool.query("select channel from cluster_events order by seq")).rows.slice(before)
  assert.deepEqual(events.map((e) => e.channel), ['reload'])
  const q = async (sql: string): Promise<any[]> => (await d.pool.query(sql)).rows
  assert.equal((await q('select count(*)::int as n from routes'))[0].n, 2)
  assert.equal((await q("select password from basicauth_credentials"))[0].password.length, 40)
  assert.equal((await q("select extract(epoch from ttl)::bigint as t from keyauth_credentials where key = 'bob-key'"))[0].t, 4102444800)
  assert.deepEqual((await q('select target from targets order by target')).map((x) => x.target), ['10.0.0.1:81', '10.0.0.2:8000'])
  assert.deepEqual((await q('select name from snis order by name')).map((x) => x.name), ['a.example.test', 'b.example.test'])
  const ids = await q('select id, name from services union all select id, name from routes union all select id, username from consumers union all select id, name from plugins order by 1')
  // the same file again: same ids, no duplicate rows, nothing refused
  await importIntoDb(d.pool, flat(CONFIG), null)
  assert.deepEqual(await q('select id, name from services union all select id, name from routes union all select id, username from consumers union all select id, name from plugins order by 1'), ids)
  assert.equal((await q('select count(*)::int as n from keyauth_credentials'))[0].n, 2)
})

test('export -> import into an empty database -> export gives back the same export', async () => {
  const a = await db()
  await importIntoDb(a.pool, flat(CONFIG), null)
  const first = toYaml(await exportFromDb(a.pool))
  assert.match(first, /^_format_version: "3\.0"\n_transform: false\n/)
  assert.doesNotMatch(first, /secret\n/) // basic-auth passwords are exported hashed
  const b = await db()
  await importIntoDb(b.pool, flat(first), null)
  const second = toYaml(await exportFromDb(b.pool))
  assert.equal(second, first)
})

test('a file the database refuses is imported not at all', async () => {
  const d = await db()
  await importIntoDb(d.pool, flat('_format_version: "3.0"\nconsumers:\n- id: 00000000-0000-4000-8000-000000000001\n  username: taken\n'), null)
  const events = Number((await d.pool.query('select count(*) from cluster_events')).rows[0].count)
  // valid on its own, but `taken` belongs to another row: the whole file is refused
  const f = flat(`
_format_version: "3.0"
services:
- name: new-service
  host: example.com
consumers:
- username: fresh
- username: taken
`)
  await assert.rejects(importIntoDb(d.pool, f, null), (err: unknown) => {
    assert.ok(err instanceof DbError)
    assert.equal(err.errT.message, `UNIQUE violation detected on '{username="taken"}'`)
    return true
  })
  assert.equal((await d.pool.query('select count(*)::int as n from services')).rows[0].n, 0)
  assert.equal((await d.pool.query('select count(*)::int as n from consumers')).rows[0].n, 1)
  assert.equal(Number((await d.pool.query('select count(*) from cluster_events')).rows[0].count), events)
})

function sluice (args: string[], env: Record<string, string>, cwd?: string): Promise<{ code: number; out: string; err: string }> {
  const clean: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('KONG_') && !k.startsWith('SLUICE_')) clean[k] = v
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...clean, ...env }, cwd, timeout: 120_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, out: stdout, err: stderr })
    })
  })
}

test('sluice config init | parse | db_import | db_export', async () => {
  const d = await db()
  const dir = mkdtempSync(join(tmpdir(), 'sluice-decl-'))
  dirs.push(dir)
  const s = d.settings
  const env = {
    SLUICE_PREFIX: join(dir, 'prefix'),
    SLUICE_PG_HOST: s.host,
    SLUICE_PG_PORT: String(s.port),
    SLUICE_PG_USER: s.user,
    SLUICE_PG_PASSWORD: s.password,
    SLUICE_PG_DATABASE: s.database,
  }
  const init = await sluice(['config', 'init'], env, dir)
  assert.equal(init.code, 0, init.err)
  assert.match(readFileSync(join(dir, 'kong.yml'), 'utf8'), /_format_version: "3.0"/)
  assert.equal((await sluice(['config', 'init'], env, dir)).code, 1) // never over a file
  assert.equal((await sluice(['config', 'parse', 'kong.yml'], env, dir)).code, 0)

  writeFileSync(join(dir, 'bad.yml'), '_format_version: "3.0"\nservices:\n- port: -12\n- name: ok\n  host: x.test\n  routes:\n  - protocols: [tcp]\n')
  const bad = await sluice(['config', 'parse', 'bad.yml'], env, dir)
  assert.equal(bad.code, 1)
  assert.match(bad.err, /3 errors in bad\.yml/)
  assert.match(bad.err, /- in entry 1 of 'services':\n {4}in 'host': required field missing\n {4}in 'port': value should be between 0 and 65535/)
  assert.match(bad.err, /- in entry 2 of 'services':\n {4}in 'routes':\n {6}- in entry 1 of 'routes':/)
  const badImport = await sluice(['config', 'db_import', 'bad.yml'], env, dir)
  assert.equal(badImport.code, 1)
  assert.equal((await d.pool.query('select count(*)::int as n from services')).rows[0].n, 0)

  writeFileSync(join(dir, 'good.yml'), CONFIG)
  const imp = await sluice(['config', 'db_import', 'good.yml'], env, dir)
  assert.equal(imp.code, 0, imp.err)
  assert.match(imp.out, /parse successful, beginning import/)
  assert.match(imp.out, /import successful: \d+ entities in \d+ statements/)
  const exp = await sluice(['config', 'db_export', 'out.yml'], env, dir)
  assert.equal(exp.code, 0, exp.err)
  const exported = readFileSync(join(dir, 'out.yml'), 'utf8')
  assert.equal(exported, toYaml(await exportFromDb(d.pool)))
  assert.equal((await sluice(['config', 'db_export', 'out.yml'], env, dir)).code, 1) // never over a file
  const stdout = await sluice(['config', 'db_export', '-'], env, dir)
  assert.equal(stdout.out, exported)
  assert.equal((await sluice(['config', 'keys'], env, dir)).code, 0)
})

test('/config answers 400 in DB mode', async () => {
  const d = await db()
  const gw = await startGateway(d.settings)
  try {
    const msg = { message: 'this endpoint is only available when Kong is configured to not use a database' }
    let r = await fetch(`${gw.admin}/config`)
    assert.equal(r.status, 400)
    assert.deepEqual(await r.json(), msg)
    r = await fetch(`${gw.admin}/config`, { method: 'POST', headers: { 'content-type': 'text/yaml' }, body: '_format_version: "3.0"\n' })
    assert.equal(r.status, 400)
    assert.deepEqual(await r.json(), msg)
  } finally {
    await gw.stop()
  }
})

test('a db_import reaches a running node: the reload event makes it serve the new config', async () => {
  const d = await db()
  const gw = await startGateway(d.settings)
  try {
    await importIntoDb(d.pool, flat('_format_version: "3.0"\nservices:\n- name: imported\n  url: http://127.0.0.1:1\n  routes:\n  - name: ir\n    paths: [/imported]\n'), null)
    // the route is served once the node reloaded: the upstream refuses, so no longer a 404
    const deadline = Date.now() + 15_000
    let status = 404
    while (Date.now() < deadline && status === 404) {
      const r = await fetch(`${gw.proxy}/imported`)
      status = r.status
      await r.arrayBuffer()
      if (status === 404) await new Promise((resolve) => setTimeout(resolve, 100))
    }
    assert.equal(status, 502)
  } finally {
    await gw.stop()
  }
})

test('Kong 11-config_spec: re-import of unnamed routes adds rows (random ids); vaults are stored once (id from the prefix)', async () => {
  const d = await db()
  const file = `_format_version: "1.1"
services:
- name: foo
  url: https://example.com
  routes:
    - hosts: ['foo.test']
- name: bar
  url: https://example.com
  routes:
    - hosts: ['bar.test']
vaults:
- name: env
  prefix: my-env
`
  const f = flat(file)
  assert.equal(f.entities.get('vaults')?.length, 1)
  const r = await importIntoDb(d.pool, f, null)
  assert.equal(r.byTable.vaults, 1)
  assert.equal(r.rows, 5)
  await importIntoDb(d.pool, flat(file), null)
  assert.equal((await d.pool.query('select count(*)::int as n from routes')).rows[0].n, 4)
  assert.equal((await d.pool.query('select count(*)::int as n from services')).rows[0].n, 2)
  assert.equal((await d.pool.query('select count(*)::int as n from sm_vaults')).rows[0].n, 1)
  const exported = toYaml(await exportFromDb(d.pool))
  assert.match(exported, /\nvaults:\n {2}- id: "[0-9a-f-]{36}"\n {4}prefix: my-env\n {4}name: env\n/)
})
