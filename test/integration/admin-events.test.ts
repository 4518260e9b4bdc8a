/**
 * The DAO's contract with the rest of the primary: one cluster_events row per changed entity,
 * committed in the entity's transaction (and none for a failed write), NOTIFY at commit, the
 * config-cache loaders in the Admin API's exact shape, and tables that match the schemas.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import pg from 'pg'
import { randomUUID } from 'node:crypto'
import { NODE_ID, startTestAdmin, type Admin } from './admin-harness.ts'
import { loadAll, loadAllForSnapshot, loadOne, loadOneForSnapshot } from '../../src/db/dao/index.ts'
import { SNAPSHOT_TABLES } from '../../src/primary/config-cache.ts'
import { RSA_CERT, RSA_KEY } from './admin-fixtures.ts'
import { columnsOf } from '../../src/db/dao/columns.ts'
import { allSchemas } from '../../src/db/schema/registry.ts'
import type { RouteRow, ServiceRow } from '../../src/common/snapshot.ts'
import { createPool } from '../../src/db/pool.ts'
import { loadConfig } from '../../src/config/load.ts'
import { startAdmin } from '../../src/admin/server.ts'

let a: Admin
before(async () => { a = await startTestAdmin() })
after(async () => { await a.close() })

interface Ev { seq: number; node_id: string; channel: string; data: string; tx: string }

async function eventsAfter (seq: number): Promise<Ev[]> {
  const r = await a.db.pool.query<Ev>('select seq, node_id, channel, data, (txid::text::numeric % 4294967296)::text as tx from cluster_events where seq > $1 order by seq', [seq])
  return r.rows.map((x) => ({ ...x, seq: Number(x.seq) }))
}

async function lastSeq (): Promise<number> {
  const r = await a.db.pool.query<{ s: string | null }>('select max(seq) as s from cluster_events')
  return Number(r.rows[0]!.s ?? 0)
}

async function xmin (table: string, id: string): Promise<string> {
  const r = await a.db.pool.query<{ x: string }>(`select xmin::text as x from ${table} where id = $1`, [id])
  return r.rows[0]!.x
}

test('a create writes one crud event in the same transaction as the row', async () => {
  const before = await lastSeq()
  const s = (await a.json('POST', '/services', { host: 'ev.test' })).json
  const ev = await eventsAfter(before)
  assert.equal(ev.length, 1)
  assert.equal(ev[0]!.node_id, NODE_ID)
  assert.equal(ev[0]!.channel, 'crud')
  assert.deepEqual(JSON.parse(ev[0]!.data), { entity: 'services', op: 'create', id: s.id })
  assert.equal(ev[0]!.tx, await xmin('services', s.id))
})

test('update, upsert and delete are recorded with their op', async () => {
  const s = (await a.json('POST', '/services', { name: 'ops', host: 'ev.test' })).json
  const before = await lastSeq()
  await a.json('PATCH', '/services/ops', { retries: 1 })
  await a.json('PUT', '/services/ops', { host: 'ev2.test' })
  const id = randomUUID()
  await a.json('PUT', `/services/${id}`, { host: 'ev3.test' })
  await a.json('DELETE', `/services/${id}`)
  await a.json('DELETE', `/services/${randomUUID()}`)
  const ops = (await eventsAfter(before)).map((e) => JSON.parse(e.data))
  assert.deepEqual(ops, [
    { entity: 'services', op: 'update', id: s.id },
    { entity: 'services', op: 'update', id: s.id },
    { entity: 'services', op: 'create', id },
    { entity: 'services', op: 'delete', id },
  ])
})

test('failed writes leave neither a row nor an event', async () => {
  await a.json('POST', '/services', { name: 'taken', host: 'ev.test' })
  const before = await lastSeq()
  const count = async (): Promise<number> => Number((await a.db.pool.query('select count(*) as c from services')).rows[0].c)
  const n = await count()
  assert.equal((await a.json('POST', '/services', { name: 'taken', host: 'ev.test' })).status, 409)
  assert.equal((await a.json('POST', '/services', { host: 'bad host' })).status, 400)
  assert.equal((await a.json('POST', '/routes', { paths: ['/x'], service: { id: randomUUID() } })).status, 400)
  const used = (await a.json('POST', '/services', { host: 'ev.test' })).json
  await a.json('POST', '/routes', { paths: ['/u'], service: { id: used.id } })
  const mid = await lastSeq()
  assert.equal((await a.json('DELETE', `/services/${used.id}`)).status, 400)
  assert.equal(await lastSeq(), mid)
  assert.equal((await eventsAfter(before)).length, 2)
  assert.equal(await count(), n + 1)
})

test('linking a new service to a route commits both changes in one transaction', async () => {
  const r = (await a.json('POST', '/routes', { paths: ['/link'] })).json
  const before = await lastSeq()
  const s = (await a.json('PUT', `/routes/${r.id}/service`, { host: 'linked.test' })).json
  const ev = await eventsAfter(before)
  assert.deepEqual(ev.map((e) => JSON.parse(e.data)), [
    { entity: 'services', op: 'create', id: s.id },
    { entity: 'routes', op: 'update', id: r.id },
  ])
  assert.equal(ev[0]!.tx, ev[1]!.tx)
})

test('the commit NOTIFYs sluice_events with the event sequence', async () => {
  const client = new pg.Client({ ...a.db.settings, password: a.db.settings.password || undefined })
  await client.connect()
  try {
    await client.query('listen sluice_events')
    const got = new Promise<string>((resolve) => client.once('notification', (n) => resolve(n.payload ?? '')))
    await a.json('POST', '/services', { host: 'notify.test' })
    const payload = await got
    assert.equal(Number(payload), await lastSeq())
  } finally { await client.end() }
})

test('loadAll and loadOne return rows exactly as GET shows them (ServiceRow / RouteRow)', async () => {
  const s = (await a.json('POST', '/services', { name: 'loaded', url: 'https://l.test:8443/p', tags: ['t'] })).json
  const r = (await a.json('POST', '/routes', {
    name: 'loaded-r', hosts: ['h.test'], headers: { 'x-a': ['1'] }, service: { id: s.id }, regex_priority: 9007199254740992,
  })).json
  const services = await loadAll(a.db.pool, 'services')
  const routes = await loadAll(a.db.pool, 'routes')
  assert.deepEqual(services, (await a.json('GET', '/services?size=1000')).json.data)
  assert.deepEqual(routes, (await a.json('GET', '/routes?size=1000')).json.data)
  assert.deepEqual(await loadOne(a.db.pool, 'services', s.id), s)
  assert.deepEqual(await loadOne(a.db.pool, 'routes', r.id), r)
  assert.equal(await loadOne(a.db.pool, 'routes', randomUUID()), null)
  assert.match(JSON.stringify(await loadOne(a.db.pool, 'routes', r.id)), /"regex_priority":9007199254740992/)

  const serviceKeys: Array<keyof ServiceRow> = ['id', 'name', 'protocol', 'host', 'port', 'path', 'retries', 'connect_timeout', 'write_timeout',
    'read_timeout', 'enabled', 'tags', 'client_certificate', 'tls_verify', 'tls_verify_depth', 'ca_certificates', 'created_at', 'updated_at']
  const routeKeys: Array<keyof RouteRow> = ['id', 'name', 'protocols', 'methods', 'hosts', 'paths', 'headers', 'https_redirect_status_code',
    'regex_priority', 'strip_path', 'preserve_host', 'request_buffering', 'response_buffering', 'path_handling', 'snis', 'sources',
    'destinations', 'service', 'tags', 'created_at', 'updated_at']
  assert.deepEqual(Object.keys(s).sort(), [...serviceKeys].sort())
  assert.deepEqual(Object.keys(r).sort(), [...routeKeys].sort())
})

test('loadAll and loadOne give every snapshot table\'s rows as the Admin API shows them', async () => {
  const c = (await a.json('POST', '/consumers', { username: 'snap' })).json
  const svc = (await a.json('POST', '/services', { host: 'snap.test' })).json
  await a.json('POST', `/services/${svc.id as string}/plugins`, { name: 'rate-limiting', config: { minute: 1 } })
  await a.json('POST', '/upstreams', { name: 'snap.test' })
  await a.json('POST', '/upstreams/snap.test/targets', { target: 'a.test' })
  await a.json('POST', '/certificates', { cert: RSA_CERT, key: RSA_KEY, snis: ['snap.test'] })
  await a.json('POST', `/consumers/${c.id as string}/key-auth`, { ttl: 1000 })
  await a.json('POST', `/consumers/${c.id as string}/basic-auth`, { username: 'snap', password: 'pw' })
  await a.json('POST', `/consumers/${c.id as string}/jwt`, {})
  await a.json('POST', `/consumers/${c.id as string}/hmac-auth`, { username: 'snap' })
  await a.json('POST', `/consumers/${c.id as string}/acls`, { group: 'g' })
  await a.json('PUT', '/vaults/snap-env', { name: 'env', config: { prefix: 'SNAP_' } })
  const paths: Record<string, string> = {
    consumers: '/consumers', plugins: '/plugins', upstreams: '/upstreams', certificates: '/certificates', snis: '/snis',
    ca_certificates: '/ca_certificates', keyauth_credentials: '/key-auths', basicauth_credentials: '/basic-auths', jwt_secrets: '/jwts',
    hmacauth_credentials: '/hmac-auths', acls: '/acls', services: '/services', routes: '/routes', vaults: '/vaults',
  }
  // `ttl` is seconds left when read: two reads may straddle a second
  const steady = (rows: Record<string, unknown>[]): Record<string, unknown>[] => rows.map((r) => {
    if (!('ttl' in r)) return r
    const { ttl, ...rest } = r
    return { ...rest, ttl: typeof ttl === 'number' ? Math.round(ttl / 10) : ttl }
  })
  for (const table of SNAPSHOT_TABLES) {
    assert.ok(paths[table] !== undefined || table === 'targets', `no Admin API path for snapshot table ${table}`)
    const rows = steady(await loadAll(a.db.pool, table))
    if (table === 'targets') {
      assert.deepEqual(rows, (await a.json('GET', '/upstreams/snap.test/targets/all')).json.data)
    } else {
      assert.deepEqual(rows, steady((await a.json('GET', `${paths[table]!}?size=1000`)).json.data), table)
    }
    if (table !== 'ca_certificates' && table !== 'routes') assert.ok(rows.length > 0, table)
    for (const r of rows) assert.deepEqual(steady([(await loadOne(a.db.pool, table, r.id as string))!]), [r], table)
  }
  // the worker's secrets travel: the basic-auth hash, jwt and hmac secrets, and certificate keys
  assert.match(String((await loadAll(a.db.pool, 'basicauth_credentials'))[0]!.password), /^[0-9a-f]{40}$/)
  assert.equal(typeof (await loadAll(a.db.pool, 'jwt_secrets'))[0]!.secret, 'string')
  assert.equal((await loadAll(a.db.pool, 'certificates'))[0]!.key, RSA_KEY)
  assert.deepEqual((await loadAll(a.db.pool, 'certificates'))[0]!.snis, ['snap.test'])
})

test('loadAllForSnapshot adds the absolute expiry of key-auth credentials', async () => {
  const [k] = await loadAllForSnapshot(a.db.pool, 'keyauth_credentials')
  const now = Date.now() / 1000
  assert.ok(typeof k!.expires_at === 'number' && k!.expires_at > now + 990 && k!.expires_at <= now + 1001, String(k!.expires_at))
  assert.equal((await loadOneForSnapshot(a.db.pool, 'keyauth_credentials', k!.id as string))!.expires_at, k!.expires_at)
  const { expires_at: _drop, ttl: _ttl, ...adminShape } = k!
  const { ttl: _ttl2, ...loaded } = (await loadOne(a.db.pool, 'keyauth_credentials', k!.id as string))!
  assert.deepEqual(adminShape, loaded)
  assert.deepEqual(await loadAllForSnapshot(a.db.pool, 'consumers'), await loadAll(a.db.pool, 'consumers'))
  assert.equal(await loadOneForSnapshot(a.db.pool, 'keyauth_credentials', randomUUID()), null)
})

test('every schema field has its column in the migrated tables', async () => {
  for (const schema of allSchemas()) {
    const r = await a.db.pool.query<{ column_name: string }>(
      'select column_name from information_schema.columns where table_name = $1 and table_schema = current_schema()', [schema.table ?? schema.name])
    // besides the fields: a composite cache key's column, and the expiry of rows with a ttl
    const extra = [...((schema.cache_key?.length ?? 0) > 1 ? ['cache_key'] : []), ...(schema.ttl === true ? ['ttl'] : [])]
    assert.deepEqual(r.rows.map((x) => x.column_name).sort(), [...columnsOf(schema).map((c) => c.name), ...extra].sort(), schema.name)
  }
})

test('an unreachable database is a 503 with a clear message; the server keeps answering', async () => {
  const pool = createPool({ host: '127.0.0.1', port: 1, user: 'postgres', password: '', database: 'none', ssl: false, sslVerify: false, timeoutMs: 2000, max: 1 })
  const admin = await startAdmin({
    config: loadConfig({ env: {} }),
    pool,
    nodeId: NODE_ID,
    hostname: 'h',
    status: async () => ({ server: {}, database: { reachable: false } }),
    info: () => ({}),
    log: () => {},
  }, [{ host: '127.0.0.1', port: 0, ssl: false, http2: false, reuseport: false, backlog: null }])
  try {
    const url = `http://127.0.0.1:${admin.ports[0]!}`
    for (const [method, path, body] of [['POST', '/services', '{"host":"down.test"}'], ['GET', '/services', undefined], ['GET', '/routes/x', undefined]] as const) {
      const r = await fetch(url + path, { method, body, headers: body !== undefined ? { 'Content-Type': 'application/json' } : {} })
      assert.equal(r.status, 503, `${method} ${path}`)
      assert.match(((await r.json()) as { message: string }).message, /database/i)
    }
    assert.equal((await fetch(url + '/')).status, 200)
  } finally {
    await admin.close()
    await pool.end()
  }
})
