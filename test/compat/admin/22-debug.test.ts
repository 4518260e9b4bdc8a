/**
 * Port of Kong's spec/02-integration/04-admin_api/22-debug_spec.lua: `/debug/node/log-level`,
 * `/debug/node/log-level/{level}` and `/debug/cluster/log-level/{level}` on real nodes (two on one
 * PostgreSQL for the cluster cases, one DB-less). Kong's e2e checks ("not printing lower than
 * alert") are made on the workers' own error-log lines: a request to a service on a closed port
 * makes the worker that serves it log `upstream ... failed after N tries` at info level. Absence
 * is checked without sleeping: a later level change makes every worker log `log level changed`,
 * and a worker's lines arrive in order, so an info line written before would be there by then.
 * Kong's hybrid-mode cases (control planes) have no Sluice counterpart: Sluice has no hybrid mode,
 * and `/debug/cluster/control-planes-nodes/...` is a 404 on a traditional node, as in Kong.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { createTestDb, type TestDb } from '../../helpers/pg.ts'
import { startGateway, type Gateway } from '../../helpers/gateway.ts'
import { startDblessGateway } from '../../helpers/dbless.ts'
import { adminCall, until } from '../../helpers/admin-api.ts'
import { freePort } from '../../helpers/ports.ts'
import { buildConfig } from '../../../src/config/load.ts'

let db: TestDb
let a: Gateway
const lines: string[] = []
const waiters = new Set<() => void>()
const realWrite = process.stderr.write.bind(process.stderr)

before(async () => {
  // Every error-log line of the process (the primary's, and the workers' forwarded through it).
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString()
    for (const l of text.split('\n')) if (l !== '') lines.push(l)
    for (const w of waiters) w()
    if (process.env.SLUICE_TEST_LOG !== undefined) return realWrite(chunk, ...rest as [])
    const done = rest.find((x) => typeof x === 'function') as (() => void) | undefined
    if (done !== undefined) process.nextTick(done)
    return true
  }) as typeof process.stderr.write
  db = await createTestDb()
  a = await startGateway(db.settings, { log_level: 'notice' })
  const closed = await freePort()
  assert.equal((await adminCall(a.admin, 'POST', '/services', { name: 'down', url: `http://127.0.0.1:${closed}/` })).status, 201)
  assert.equal((await adminCall(a.admin, 'POST', '/services/down/routes', { hosts: ['down.test'] })).status, 201)
  await a.primary.sync()
})

after(async () => {
  await a?.stop()
  await db?.drop()
  process.stderr.write = realWrite as typeof process.stderr.write
})

/** Resolves once `count` lines written after `from` match `re`; returns them. */
function waitLines (from: number, re: RegExp, count: number, ms = 10_000): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const check = (): boolean => {
      const found = lines.slice(from).filter((l) => re.test(l))
      if (found.length < count) return false
      waiters.delete(check)
      clearTimeout(timer)
      resolve(found)
      return true
    }
    const timer = setTimeout(() => { waiters.delete(check); reject(new Error(`no ${count} line(s) matching ${re} within ${ms} ms`)) }, ms)
    waiters.add(check)
    check()
  })
}

const FAILED_LINE = /\[info\] worker#\d+: upstream http:\/\/127\.0\.0\.1:\d+ failed after/
const changedLine = (level: string): RegExp => new RegExp(`\\[notice\\] worker#\\d+: log level changed to ${level}$`)

/**
 * A request to the service on a closed port: 502, and an info line from the worker that served it.
 * Right after a reload, a connection the kernel queued on a draining worker's listener is reset
 * (see ops-lifecycle); such a connection-level failure is tried again.
 */
async function failingRequest (gw: Gateway): Promise<void> {
  let r
  for (let tries = 0; ; tries++) {
    try {
      r = await request(gw.proxy + '/', { headers: { host: 'down.test' }, reset: true })
      break
    } catch (err) {
      const code = (err as { code?: string }).code
      if (tries >= 5 || (code !== 'ECONNRESET' && code !== 'UND_ERR_SOCKET')) throw err
    }
  }
  assert.equal(r.statusCode, 502)
  assert.match(await r.body.text(), /An invalid response was received from the upstream server/)
}

async function level (gw: { admin: string }): Promise<string> {
  const r = await adminCall(gw.admin, 'GET', '/debug/node/log-level')
  assert.equal(r.status, 200)
  return r.json.message
}

async function put (gw: { admin: string }, path: string): Promise<{ status: number; message: string }> {
  const r = await adminCall(gw.admin, 'PUT', path)
  return { status: r.status, message: r.json?.message }
}

test('GET /debug/node/log-level reports the configured level', async () => {
  assert.equal(await level(a), 'log level: notice')
})

test('unknown levels, negative timeouts and the level in force are refused or no-ops', async () => {
  assert.deepEqual(await put(a, '/debug/node/log-level/stderr'), { status: 400, message: 'unknown log level: stderr' })
  assert.deepEqual(await put(a, '/debug/node/log-level/NOTICE'), { status: 400, message: 'unknown log level: NOTICE' })
  assert.deepEqual(await put(a, '/debug/node/log-level/6'), { status: 400, message: 'unknown log level: 6' })
  assert.deepEqual(await put(a, '/debug/node/log-level/notice?timeout=-1'), { status: 400, message: 'timeout must be greater than or equal to 0' })
  assert.deepEqual(await put(a, '/debug/node/log-level/info?timeout=-1.5'), { status: 400, message: 'timeout must be greater than or equal to 0' })
  // Kong rounds up first: -0.5 is 0, which means "the configured level"
  assert.deepEqual(await put(a, '/debug/node/log-level/info?timeout=-0.5'), { status: 200, message: 'log level changed' })
  assert.equal(await level(a), 'log level: notice')
  // a timeout that is not a number is the default, 60 s (Lua's tonumber gives nil); a body's counts too
  assert.deepEqual(await put(a, '/debug/node/log-level/info?timeout=soon'), { status: 200, message: 'log level changed' })
  assert.equal(await level(a), 'log level: info')
  const r = await adminCall(a.admin, 'PUT', '/debug/node/log-level/warn', { timeout: 0 })
  assert.deepEqual([r.status, r.json], [200, { message: 'log level changed' }])
  assert.equal(await level(a), 'log level: notice')
  // the level check comes first, as in Kong
  assert.deepEqual(await put(a, '/debug/node/log-level/stderr?timeout=-1'), { status: 400, message: 'unknown log level: stderr' })
  assert.deepEqual(await put(a, '/debug/node/log-level/notice'), { status: 200, message: 'log level is already notice' })
  assert.equal(await level(a), 'log level: notice')
})

test('odd parameters: bytes that are not UTF-8, infinite and non-numeric timeouts', async () => {
  const bad = await put(a, '/debug/node/log-level/%FF')
  assert.equal(bad.status, 400)
  assert.match(bad.message, /^unknown log level: /)
  // 1e400 is Lua's math.huge: the level holds until changed
  assert.deepEqual(await put(a, '/debug/node/log-level/warn?timeout=1e400'), { status: 200, message: 'log level changed' })
  assert.equal(await level(a), 'log level: warn')
  // a list is no number: the default timeout
  const r = await request(a.admin + '/debug/node/log-level/error', { method: 'PUT', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'timeout[]=0' })
  assert.equal(r.statusCode, 200)
  assert.deepEqual(await r.body.json(), { message: 'log level changed' })
  assert.equal(await level(a), 'log level: error')
  assert.deepEqual(await put(a, '/debug/node/log-level/notice?timeout=0'), { status: 200, message: 'log level changed' })
  assert.equal(await level(a), 'log level: notice')
})

test('routes: PUT only on a level, GET only on the node; no control-plane variant', async () => {
  const r = await adminCall(a.admin, 'GET', '/debug/node/log-level/debug')
  assert.deepEqual([r.status, r.json], [405, { message: 'Method not allowed' }])
  const o = await request(a.admin + '/debug/cluster/log-level/debug', { method: 'OPTIONS' })
  assert.equal(o.statusCode, 204)
  assert.equal(o.headers.allow, 'OPTIONS, PUT')
  const cp = await adminCall(a.admin, 'PUT', '/debug/cluster/control-planes-nodes/log-level/emerg')
  assert.deepEqual([cp.status, cp.json], [404, { message: 'Not found' }])
})

test('e2e: a level set on the node changes what its workers log, and back', async () => {
  // notice (configured): the info line is not written
  let from = lines.length
  await failingRequest(a)
  assert.deepEqual(await put(a, '/debug/node/log-level/info'), { status: 200, message: 'log level changed' })
  assert.equal(await level(a), 'log level: info')
  // both workers announce the change; nothing from the request before it
  await waitLines(from, changedLine('info'), 2)
  assert.deepEqual(lines.slice(from).filter((l) => FAILED_LINE.test(l)), [])

  from = lines.length
  await failingRequest(a)
  await waitLines(from, FAILED_LINE, 1)

  // alert: not even errors; timeout=0 is "back to the configured level"
  assert.deepEqual(await put(a, '/debug/node/log-level/alert'), { status: 200, message: 'log level changed' })
  assert.equal(await level(a), 'log level: alert')
  from = lines.length
  await failingRequest(a)
  assert.deepEqual(await put(a, '/debug/node/log-level/info?timeout=0'), { status: 200, message: 'log level changed' })
  assert.equal(await level(a), 'log level: notice')
  await waitLines(from, changedLine('notice'), 2)
  assert.deepEqual(lines.slice(from).filter((l) => FAILED_LINE.test(l)), [])
})

test('change log_level with timeout: the configured level returns when it passes', async () => {
  let from = lines.length
  assert.deepEqual(await put(a, '/debug/node/log-level/debug?timeout=1'), { status: 200, message: 'log level changed' })
  assert.equal(await level(a), 'log level: debug')
  await waitLines(from, changedLine('debug'), 2)
  from = lines.length
  await failingRequest(a)
  await waitLines(from, FAILED_LINE, 1)
  // the timeout restores notice on the node and in its workers
  from = lines.length
  await until('the level to return to notice', async () => (await level(a)) === 'log level: notice', 5000)
  await waitLines(from, changedLine('notice'), 2)
  from = lines.length
  await failingRequest(a)
  // a fraction of a second is rounded up (Kong: math.ceil); the change is the marker for the check
  assert.deepEqual(await put(a, '/debug/node/log-level/info?timeout=0.2'), { status: 200, message: 'log level changed' })
  await waitLines(from, changedLine('info'), 2)
  assert.deepEqual(lines.slice(from).filter((l) => FAILED_LINE.test(l)), [])
  await until('info to expire after 1 s', async () => (await level(a)) === 'log level: notice', 5000)
})

test('newly spawned workers take the level in force (reload)', async () => {
  assert.deepEqual(await put(a, '/debug/node/log-level/info?timeout=30'), { status: 200, message: 'log level changed' })
  const from = lines.length
  const outcome = await a.primary.reload(a.config)
  assert.equal(outcome.ok, true, outcome.message)
  // the new generation's two workers ask for the level and change to it
  await waitLines(from, changedLine('info'), 2)
  assert.equal(await level(a), 'log level: info')
  const at = lines.length
  await failingRequest(a)
  await waitLines(at, FAILED_LINE, 1)
  assert.deepEqual(await put(a, '/debug/node/log-level/notice?timeout=0'), { status: 200, message: 'log level changed' })
})

test('a reload with another log_level changes the configured level', async () => {
  let outcome = await a.primary.reload(buildConfig({ ...a.config.raw, log_level: 'info' }))
  assert.equal(outcome.ok, true, outcome.message)
  assert.deepEqual(outcome.changed, ['log_level'])
  assert.equal(await level(a), 'log level: info')
  const at = lines.length
  await failingRequest(a) // a worker of the new generation, configured at info
  await waitLines(at, FAILED_LINE, 1)
  outcome = await a.primary.reload(a.config)
  assert.equal(outcome.ok, true, outcome.message)
  assert.equal(await level(a), 'log level: notice')
})

test('broadcasts to all traditional nodes through cluster events', async () => {
  const b = await startGateway(db.settings, { log_level: 'debug' })
  try {
    assert.equal(await level(b), 'log level: debug')
    assert.deepEqual(await put(a, '/debug/cluster/log-level/emerg'), { status: 200, message: 'log level changed' })
    assert.equal(await level(a), 'log level: emerg')
    await until('node B at emerg', async () => (await level(b)) === 'log level: emerg')
    // Kong's event: channel log_level, nginx's level number and the timeout
    const ev = await db.pool.query<{ data: string }>("select data from cluster_events where channel = 'log_level' order by seq")
    assert.deepEqual(ev.rows.map((r) => JSON.parse(r.data)), [{ log_level: 1, timeout: 60 }])

    // from node B: node A's workers follow
    const from = lines.length
    assert.deepEqual(await put(b, '/debug/cluster/log-level/info'), { status: 200, message: 'log level changed' })
    assert.equal(await level(b), 'log level: info')
    await until('node A at info', async () => (await level(a)) === 'log level: info')
    await waitLines(from, changedLine('info'), 4) // two workers on each node
    const at = lines.length
    await failingRequest(a)
    await waitLines(at, FAILED_LINE, 1)

    // timeout 0 through the cluster: every node goes back to its own configured level
    assert.deepEqual(await put(a, '/debug/cluster/log-level/warn?timeout=0'), { status: 200, message: 'log level changed' })
    assert.equal(await level(a), 'log level: notice')
    await until('node B back to its configured debug', async () => (await level(b)) === 'log level: debug')

    // the level in force: nothing is broadcast
    assert.deepEqual(await put(a, '/debug/cluster/log-level/notice'), { status: 200, message: 'log level is already notice' })
    const n = await db.pool.query("select count(*)::int as n from cluster_events where channel = 'log_level'")
    assert.equal(n.rows[0].n, 3)
  } finally {
    await b.stop()
  }
})

test('DB-less: the level can be read, not changed', async () => {
  const d = await startDblessGateway({ overrides: { log_level: 'warn' } })
  try {
    assert.equal(await level(d), 'log level: warn')
    for (const path of ['/debug/node/log-level/notice', '/debug/cluster/log-level/notice', '/debug/node/log-level/stderr']) {
      assert.deepEqual(await put(d, path), { status: 405, message: 'cannot change log level when not using a database' })
    }
  } finally {
    await d.stop()
  }
})
