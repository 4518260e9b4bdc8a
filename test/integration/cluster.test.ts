/**
 * Two nodes on one PostgreSQL: an Admin API write on either reaches every worker of both, through
 * cluster_events + NOTIFY; a node whose LISTEN connection was killed still converges (catch-up),
 * also when it dies between a write's commit and the notification that commit sends.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import { randomUUID } from 'node:crypto'
import { request } from 'undici'
import { createTestDb, type TestDb } from '../helpers/pg.ts'
import { startGateway, type Gateway } from '../helpers/gateway.ts'

let db: TestDb
let a: Gateway
let b: Gateway
let upstream: Server
let upstreamPort: number

before(async () => {
  upstream = createServer((req, res) => { res.end(`upstream saw ${req.url}`) })
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
  upstreamPort = (upstream.address() as { port: number }).port
  db = await createTestDb()
  a = await startGateway(db.settings, { status_listen: '127.0.0.1:0' })
  b = await startGateway(db.settings, { status_listen: '127.0.0.1:0' })
})

after(async () => {
  await a?.stop()
  await b?.stop()
  await db?.drop()
  await new Promise((resolve) => upstream?.close(resolve))
})

async function json (url: string, method: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await request(url, { method: method as 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  return { status: r.statusCode, body: await r.body.json() as Record<string, unknown> }
}

/** Requests until the node serves `status` for `path`; every request is a real proxied one. */
async function until (gw: Gateway, path: string, status: number): Promise<number> {
  const t0 = Date.now()
  for (;;) {
    const r = await request(gw.proxy + path)
    await r.body.dump()
    if (r.statusCode === status) return Date.now() - t0
    if (Date.now() - t0 > 10_000) assert.fail(`${gw.proxy}${path} still answers ${r.statusCode} after 10 s`)
    await new Promise((resolve) => setImmediate(resolve))
  }
}

test('cluster: a write on node A is served by both nodes, a write on node B too', async () => {
  const s = await json(`${a.admin}/services`, 'POST', { name: 'shared', url: `http://127.0.0.1:${upstreamPort}` })
  assert.equal(s.status, 201)
  const r = await json(`${a.admin}/services/shared/routes`, 'POST', { paths: ['/one'] })
  assert.equal(r.status, 201)
  await until(a, '/one/x', 200)
  const ms = await until(b, '/one/x', 200)
  assert.ok(ms < 10_000)

  const r2 = await json(`${b.admin}/services/shared/routes`, 'POST', { paths: ['/two'] })
  assert.equal(r2.status, 201)
  await until(a, '/two/y', 200)
  await until(b, '/two/y', 200)
  // both nodes' Admin APIs read the same database
  const list = await request(`${a.admin}/routes`)
  assert.equal((await list.body.json() as { data: unknown[] }).data.length, 2)
  // both nodes reached the same content by deltas: the same configuration_hash
  await a.primary.sync()
  await b.primary.sync()
  const hash = async (gw: Gateway): Promise<unknown> => (await (await request(`http://127.0.0.1:${gw.primary.ops.ports[0]}/status`)).body.json() as { configuration_hash: unknown }).configuration_hash
  const ha = await hash(a)
  assert.match(String(ha), /^[0-9a-f]{32}$/)
  assert.equal(await hash(b), ha)
})

test('cluster: a node whose LISTEN connection is killed still converges from cluster_events', async () => {
  // Kill node B's LISTEN connection, then write on A straight away: B gets no notification for it.
  const killed = await db.pool.query(
    "select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1",
    [`sluice-listen-${b.primary.nodeId.slice(0, 8)}`])
  assert.equal(killed.rowCount, 1)
  const r = await json(`${a.admin}/services/shared/routes`, 'POST', { paths: ['/three'] })
  assert.equal(r.status, 201)
  await until(b, '/three/z', 200)
  await until(a, '/three/z', 200)
})

test('cluster: a node whose LISTEN connection dies between a commit and its notification still converges', async () => {
  const listener = `sluice-listen-${b.primary.nodeId.slice(0, 8)}`
  const svc = await db.pool.query<{ id: string }>("select id from services where name = 'shared'")
  const id = randomUUID()
  const client = await db.pool.connect()
  try {
    // The write and its event, as the Admin API commits them; node B's listener is terminated inside
    // the transaction, and the commit waits until it is gone and no new one listens yet (B reconnects
    // after 100 ms): the NOTIFY of this commit reaches no listener of B.
    await client.query('begin')
    await client.query(`insert into routes (id, service_id, protocols, paths, strip_path, preserve_host, regex_priority,
        https_redirect_status_code, path_handling, request_buffering, response_buffering, created_at, updated_at)
      values ($1, $2, '{http,https}', '{/four}', true, false, 0, 426, 'v0', true, true, now(), now())`, [id, svc.rows[0]!.id])
    await client.query("insert into cluster_events (node_id, channel, data) values ($1, 'crud', $2)",
      [a.primary.nodeId, JSON.stringify({ entity: 'routes', op: 'create', id })])
    const pids = await client.query<{ pid: number }>('select pid from pg_stat_activity where application_name = $1', [listener])
    assert.equal(pids.rowCount, 1)
    await client.query('select pg_terminate_backend($1)', [pids.rows[0]!.pid])
    for (;;) {
      // pg_stat_activity is read once per transaction unless its snapshot is cleared
      await client.query('select pg_stat_clear_snapshot()')
      const left = await client.query('select 1 from pg_stat_activity where application_name = $1', [listener])
      if (left.rowCount === 0) break
    }
    await client.query('commit')
  } finally {
    client.release()
  }
  await until(b, '/four/z', 200)
  await until(a, '/four/z', 200)
  // B listens again, and every worker of both nodes acknowledged the versions that carry the route
  await b.primary.sync()
  await a.primary.sync()
  const again = await db.pool.query('select 1 from pg_stat_activity where application_name = $1', [listener])
  assert.equal(again.rowCount, 1)
  const del = await request(`${a.admin}/routes/${id}`, { method: 'DELETE' })
  assert.equal(del.statusCode, 204)
  await del.body.dump()
  await until(b, '/four/z', 404)
})

test('cluster: a long transaction elsewhere on the server (xids are cluster-wide) does not hold a change back', async () => {
  // A transaction with an xid in another database keeps pg_snapshot_xmin below the write's txid.
  const other = await createTestDb({ migrated: false })
  const holder = await other.pool.connect()
  try {
    await holder.query('begin')
    await holder.query('select pg_current_xact_id()')
    const r = await json(`${a.admin}/services/shared/routes`, 'POST', { paths: ['/held'] })
    assert.equal(r.status, 201)
    await a.primary.sync()
    const res = await request(a.proxy + '/held/x')
    assert.equal(res.statusCode, 200, 'served as soon as it committed')
    await res.body.dump()
    await until(b, '/held/x', 200)
  } finally {
    await holder.query('rollback').catch(() => {})
    holder.release()
    await other.drop()
  }
})
