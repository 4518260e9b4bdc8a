/**
 * A user can see whether the limits hold: /status (Admin API) and /metrics (status listener) carry
 * the node's rate-limit flush size, statement rate, flush latency, sync lag and overshoot.
 */
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'undici'
import { createTestDb, type TestDb } from '../helpers/pg.ts'
import { startGateway, type Gateway } from '../helpers/gateway.ts'
import { freePort } from '../helpers/ports.ts'

let db: TestDb | undefined
let gw: Gateway | undefined
after(async () => { await gw?.stop(); await db?.drop() })

test('rate limiting: /status and /metrics expose flush, lag and overshoot figures', async () => {
  db = await createTestDb()
  const statusPort = await freePort()
  gw = await startGateway(db.settings, { status_listen: `127.0.0.1:${statusPort}` })
  const st = await request(`${gw.admin}/status`)
  const body = await st.body.json() as { sluice: { rate_limiting: Record<string, unknown> } }
  const rl = body.sluice.rate_limiting
  for (const k of ['tick_ms', 'counters_last_flush', 'statements_per_second', 'flush_latency_ms', 'sync_lag_ms', 'overshoot']) {
    assert.ok(k in rl, `/status sluice.rate_limiting has ${k}`)
  }
  const m = await request(`http://127.0.0.1:${statusPort}/metrics`)
  assert.equal(m.statusCode, 200)
  const text = await m.body.text()
  for (const name of ['sluice_ratelimit_flush_rows', 'sluice_ratelimit_sync_lag_ms', 'sluice_ratelimit_overshoot_total']) {
    assert.match(text, new RegExp(`^${name} \\d`, 'm'))
  }
})
