/**
 * The `sluice` command as a user runs it, as separate processes: migrations exit codes, start
 * (daemonised), health, stop; and the embedded PostgreSQL default (no pg_host), which must keep
 * its data across restarts and stop with Sluice.
 */
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, existsSync, chmodSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { connect } from 'node:net'
import { request } from 'undici'
import { createTestDb, type TestDb } from '../helpers/pg.ts'
import { freePort } from '../helpers/ports.ts'

const BIN = new URL('../../bin/sluice.mjs', import.meta.url).pathname
const dbs: TestDb[] = []
const prefixes: string[] = []

after(async () => {
  for (const d of dbs) await d.drop()
  for (const p of prefixes) rmSync(p, { recursive: true, force: true })
})

function sluice (args: string[], env: Record<string, string>): Promise<{ code: number; out: string; err: string }> {
  const clean: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('KONG_') && !k.startsWith('SLUICE_')) clean[k] = v
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...clean, ...env }, timeout: 120_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, out: stdout, err: stderr })
    })
  })
}

function portAnswers (port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1')
    s.once('connect', () => { s.destroy(); resolve(true) })
    s.once('error', () => resolve(false))
  })
}

async function nodeEnv (extra: Record<string, string> = {}): Promise<Record<string, string>> {
  const prefix = mkdtempSync(join(tmpdir(), 'sluice-cli-'))
  // mkdtemp makes it 0700; as root the embedded PostgreSQL's unprivileged user must reach into it.
  chmodSync(prefix, 0o755)
  prefixes.push(prefix)
  return {
    SLUICE_PREFIX: prefix,
    SLUICE_PROXY_LISTEN: `127.0.0.1:${await freePort()}`,
    SLUICE_ADMIN_LISTEN: `127.0.0.1:${await freePort()}`,
    SLUICE_STATUS_LISTEN: `127.0.0.1:${await freePort()}`,
    SLUICE_NGINX_WORKER_PROCESSES: '2',
    SLUICE_DRAIN_TIMEOUT: '1000',
    ...extra,
  }
}

function pgEnv (db: TestDb): Record<string, string> {
  const s = db.settings
  return { KONG_PG_HOST: s.host, KONG_PG_PORT: String(s.port), KONG_PG_USER: s.user, KONG_PG_PASSWORD: s.password, KONG_PG_DATABASE: s.database }
}

test('cli: migrations list/bootstrap/up with Kong\'s exit codes', async () => {
  const db = await createTestDb({ migrated: false })
  dbs.push(db)
  const env = { ...(await nodeEnv()), ...pgEnv(db) }
  const before = await sluice(['migrations', 'list'], env)
  assert.equal(before.code, 3, before.out + before.err)
  assert.match(before.out, /needs bootstrapping/)
  const boot = await sluice(['migrations', 'bootstrap'], env)
  assert.equal(boot.code, 0, boot.err)
  const listed = await sluice(['migrations', 'list'], env)
  assert.equal(listed.code, 0)
  assert.match(listed.out, /executed {2}000001_cluster_events/)
  const up = await sluice(['migrations', 'up'], env)
  assert.equal(up.code, 0)
  assert.match(up.out, /already up-to-date/)
  const reset = await sluice(['migrations', 'reset'], env)
  assert.equal(reset.code, 1, 'reset without --yes refuses')
})

test('cli: start refuses a database whose schema is newer than itself', async () => {
  const db = await createTestDb()
  dbs.push(db)
  await db.pool.query("insert into schema_meta (id, name) values (999999, 'from_the_future')")
  const env = { ...(await nodeEnv()), ...pgEnv(db) }
  const r = await sluice(['start'], env)
  assert.equal(r.code, 1)
  assert.match(r.err, /newer than this Sluice/)
})

test('cli: start (daemon), health, stop against a configured PostgreSQL', async () => {
  const db = await createTestDb({ migrated: false })
  dbs.push(db)
  const env = { ...(await nodeEnv()), ...pgEnv(db) }
  const started = await sluice(['start'], env)
  assert.equal(started.code, 0, started.err)
  assert.match(started.out, /Sluice started \(pid \d+\)/)
  try {
    const again = await sluice(['start'], env)
    assert.equal(again.code, 1)
    assert.match(again.err, /already running/)
    const h = await sluice(['health'], env)
    assert.equal(h.code, 0, h.out + h.err)
    assert.match(h.out, /worker 0\.+running/)
    assert.match(h.out, /worker 1\.+running/)
    assert.match(h.out, /database\.+reachable/)
    assert.match(h.out, /Sluice is healthy/)
  } finally {
    const s = await sluice(['stop'], env)
    assert.equal(s.code, 0, s.err)
  }
  const down = await sluice(['health'], env)
  assert.notEqual(down.code, 0)
  assert.match(down.err, /not running/)
})

test('cli: with no pg_host, start runs an embedded PostgreSQL under the prefix, keeps data, stops it', async () => {
  const pgPort = await freePort()
  const env = await nodeEnv({ SLUICE_PG_EMBEDDED_PORT: String(pgPort) })
  const admin = `http://${env.SLUICE_ADMIN_LISTEN}`
  const s1 = await sluice(['start'], env)
  assert.equal(s1.code, 0, s1.err)
  try {
    assert.ok(existsSync(join(env.SLUICE_PREFIX!, 'pgdata', 'PG_VERSION')))
    const r = await request(`${admin}/services`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'kept', url: 'http://127.0.0.1:9' }) })
    assert.equal(r.statusCode, 201)
    await r.body.dump()
  } finally {
    assert.equal((await sluice(['stop'], env)).code, 0)
  }
  assert.equal(await portAnswers(pgPort), false, 'the embedded PostgreSQL stops with Sluice')
  const s2 = await sluice(['start'], env)
  assert.equal(s2.code, 0, s2.err)
  try {
    const r = await request(`${admin}/services/kept`)
    assert.equal(r.statusCode, 200, 'data survives a restart')
    await r.body.dump()
  } finally {
    assert.equal((await sluice(['stop'], env)).code, 0)
  }
})

test('cli: config parse checks plugin policies as the configured database allows (cluster refused with database = off)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-parse-'))
  prefixes.push(dir)
  const file = join(dir, 'kong.yml')
  writeFileSync(file, [
    '_format_version: "3.0"',
    'plugins:',
    '- name: rate-limiting',
    '  config: { minute: 5, policy: cluster }',
    '',
  ].join('\n'))
  const withDb = await sluice(['config', 'parse', file], { SLUICE_PREFIX: dir })
  assert.equal(withDb.code, 0, withDb.out + withDb.err)
  assert.match(withDb.out, /parse successful/)
  const off = await sluice(['config', 'parse', file], { SLUICE_PREFIX: dir, KONG_DATABASE: 'off' })
  assert.equal(off.code, 1, off.out + off.err)
  assert.match(off.err, /expected one of: local, redis/)
})
