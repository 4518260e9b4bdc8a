// Repro for issue 12: a uWS App in a worker thread, WebSocket upgrade after an await (the upstream
// handshake stand-in), a ws client sending messages. Counts connections whose message never arrives.
// usage: node scripts/ws-upgrade-repro.mjs [N] [mode...]   modes: tls, main, timer, delay=MS, nocork
import { Worker, isMainThread, workerData, parentPort } from 'node:worker_threads'
import { createRequire } from 'node:module'
import { once } from 'node:events'
const require = createRequire(import.meta.url)

if (isMainThread && !process.argv.includes('main')) {
  const w = new Worker(new URL(import.meta.url), { workerData: { argv: process.argv.slice(2) } })
  const [port] = await once(w, 'message')
  await client(port)
  w.postMessage('stop')
  await once(w, 'exit')
} else {
  const argv = isMainThread ? process.argv.slice(2) : workerData.argv
  const opts = new Set(argv)
  const delay = Number((argv.find((a) => a.startsWith('delay=')) ?? 'delay=5').slice(6))
  const uWS = require('uWebSockets.js')
  const tls = opts.has('tls')
  const app = tls ? uWS.SSLApp({ key_file_name: '/tmp/wsrepro.key', cert_file_name: '/tmp/wsrepro.crt' }) : uWS.App()
  if (opts.has('timer')) setInterval(() => {}, 50)
  app.ws('/*', {
    idleTimeout: 0, sendPingsAutomatically: false, compression: 0,
    upgrade (res, req, context) {
      const key = req.getHeader('sec-websocket-key')
      const proto = req.getHeader('sec-websocket-protocol')
      let aborted = false
      res.onAborted(() => { aborted = true })
      const go = () => {
        if (aborted) return
        const up = () => res.upgrade({}, key, proto, '', context)
        if (opts.has('nocork')) up(); else res.cork(up)
      }
      if (delay < 0) go()
      else if (opts.has('net')) { const s = require('node:net').connect(port0, '127.0.0.1'); s.on('connect', () => { s.destroy(); go() }) } else setTimeout(go, delay)
    },
    open () {},
    message (ws, msg, bin) { ws.send(msg, bin) },
  })
  let port0 = 0
  app.listen('127.0.0.1', 0, (s) => {
    port0 = uWS.us_socket_local_port(s)
    if (isMainThread) client(port0).then(() => process.exit(0))
    else {
      parentPort.postMessage(port0)
      parentPort.once('message', () => { app.close(); parentPort.close() })
    }
  })
}

async function client (port) {
  const WebSocket = require('ws')
  const argv = process.argv.slice(2)
  const N = Number(argv[0]) || 200
  const scheme = argv.includes('tls') ? 'wss' : 'ws'
  let stuck = 0
  for (let i = 0; i < N; i++) {
    const ws = new WebSocket(`${scheme}://127.0.0.1:${port}/x`, { rejectUnauthorized: false })
    await once(ws, 'open')
    ws.send('hello ' + i)
    const got = await Promise.race([once(ws, 'message').then(() => true), new Promise((r) => setTimeout(r, 1000, false))])
    if (!got) {
      stuck++
      ws.send('again')
      const late = await Promise.race([once(ws, 'message').then(() => true), new Promise((r) => setTimeout(r, 2000, false))])
      console.log(`conn ${i}: no echo in 1 s; second message ${late ? 'echoed' : 'not echoed either'}`)
    }
    ws.terminate()
  }
  console.log(`${argv.join(' ')}: ${stuck}/${N} stuck`)
}
