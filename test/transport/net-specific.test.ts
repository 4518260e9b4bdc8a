/**
 * Behaviour of the `net` transport that the conformance suite cannot state for both transports
 * (undici hands out its controller only when it writes): the deferred write (net-connection.ts:
 * a request goes out in the thread's next flush), and what that buys; and the read buffer lent to
 * a handler that declares `transientChunks`.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
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

/** A Recorder that copies what it keeps, so it may be lent the read buffer. */
class TransientRecorder extends Recorder {
  readonly transientChunks = true
  lent = 0
  override onResponseData (c: Parameters<Recorder['onResponseData']>[0], chunk: Buffer): void {
    if (chunk.buffer.byteLength > chunk.length) this.lent++
    super.onResponseData(c, chunk)
  }
}

describe('net transport: transientChunks', () => {
  const MB = Buffer.alloc(1 << 20)
  for (let i = 0; i < MB.length; i++) MB[i] = (i * 7 + (i >> 11)) & 0xff
  const sha = createHash('sha256').update(MB).digest('hex')
  const big = Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\ncontent-length: ${MB.length}\r\n\r\n`), MB])
  let up: RawUpstream
  let t: NetTransport
  after(async () => { await t?.destroy(); await up?.close() })

  it('lends views of the read buffer, right while the call runs, to handlers that copy (two responses at once, paused readers)', async () => {
    up = await RawUpstream.start(async (c) => { while ((await c.readRequest()) !== null) await c.write(big) })
    t = new NetTransport({ protocol: 'http', host: '127.0.0.1', port: up.port, origin: up.origin, connectTimeout: 2000, tlsVerify: false },
      { keepalivePoolSize: 8, keepaliveMaxRequests: 0, keepaliveIdleTimeoutMs: 10_000 })
    const rs = [new TransientRecorder({ slowMs: 0, keepLimit: 0 }), new TransientRecorder({ slowMs: 1, keepLimit: 0 }), new Recorder({ slowMs: 0, keepLimit: 2 << 20 })]
    for (const r of rs) t.dispatch(GET, r)
    await Promise.all(rs.map(async (r) => r.done))
    for (const r of rs) {
      assert.deepEqual(r.violations, [])
      assert.equal(r.status, 200)
      assert.equal(r.received, MB.length)
      assert.equal(r.sha256, sha)
    }
    assert.equal(rs[0]!.controller!.transientChunks, true)
    assert.ok((rs[0] as TransientRecorder).lent > 0, 'views of the read buffer')
    // Without the flag, chunks are the handler's to keep.
    assert.notEqual(rs[2]!.controller!.transientChunks, true)
    assert.ok(rs[2]!.body.equals(MB))
  })
})
