/**
 * Behaviour of the `net` transport that the conformance suite cannot state for both transports
 * (undici hands out its controller only when it writes): the deferred write (net-connection.ts:
 * a request goes out in the thread's next flush), and what that buys.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { NetTransport } from '../../src/worker/transport/net.ts'
import type { TransportRequest } from '../../src/worker/transport/types.ts'
import { RawUpstream, sleep, type Script } from './raw-upstream.ts'
import { Recorder } from './recorder.ts'

const GET: TransportRequest = { method: 'GET', path: '/', headers: ['host', 'x'] }
const OK = 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'

describe('net transport: deferred write', () => {
  const open: Array<{ up: RawUpstream; t: NetTransport }> = []
  after(async () => {
    for (const { up, t } of open) {
      await t.destroy()
      await up.close()
    }
  })

  async function setup (script: Script): Promise<{ up: RawUpstream; t: NetTransport }> {
    const up = await RawUpstream.start(script)
    const t = new NetTransport({ protocol: 'http', host: '127.0.0.1', port: up.port, origin: up.origin, connectTimeout: 2000, tlsVerify: false },
      { keepalivePoolSize: 8, keepaliveMaxRequests: 0, keepaliveIdleTimeoutMs: 10_000 })
    open.push({ up, t })
    return { up, t }
  }

  const serve: Script = async (c) => { while ((await c.readRequest()) !== null) await c.write(OK) }

  async function run (t: NetTransport, req = GET): Promise<Recorder> {
    const r = new Recorder()
    t.dispatch(req, r)
    await r.done
    return r
  }

  it('an abort in the same turn as the dispatch sends nothing and keeps the connection', async () => {
    const { up, t } = await setup(serve)
    assert.equal((await run(t)).status, 200)
    const r = new Recorder()
    t.dispatch({ ...GET, path: '/never' }, r)
    r.controller!.abort(new Error('client went away'))
    await r.done
    assert.equal(r.error?.message, 'client went away')
    assert.equal((await run(t, { ...GET, path: '/next' })).status, 200)
    assert.deepEqual(up.requests.map((q) => q.path), ['/', '/next'])
    assert.equal(up.connections, 1)
  })

  it('a connection that closes before the flush hands its request to a new connection (any method)', async () => {
    const { up, t } = await setup(serve)
    assert.equal((await run(t)).status, 200)
    const r = new Recorder()
    t.dispatch({ ...GET, method: 'POST', path: '/post', body: Buffer.from('x') }, r)
    const [c] = [...t.pool.conns]
    c!.onEnd() // the EOF of a server that closed the idle connection, seen before the write
    await r.done
    assert.equal(r.status, 200)
    assert.deepEqual(up.requests.map((q) => q.path), ['/', '/post'])
    assert.equal(up.connections, 2)
  })

  it('requests dispatched in one turn are all written in one flush', async () => {
    const { up, t } = await setup(async (c) => {
      while ((await c.readRequest()) !== null) { await sleep(5); await c.write(OK) }
    })
    const rs = Array.from({ length: 5 }, () => new Recorder())
    for (const r of rs) t.dispatch(GET, r)
    await Promise.all(rs.map(async (r) => r.done))
    for (const r of rs) assert.equal(r.status, 200)
    assert.equal(up.requests.length, 5)
  })
})
