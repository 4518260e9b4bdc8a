/**
 * Benchmark upstream: a uWebSockets.js server answering every request with a 13-byte body
 * ("Hello, World!"), the response size of the proxy-levers measurements. Run as its own process:
 *   node --import tsx autocannon/upstream.ts PORT
 */
import uws from 'uWebSockets.js'

const port = Number(process.argv[2] ?? 9100)
const body = Buffer.from('Hello, World!')
const app = uws.App()
app.any('/*', (res, req) => {
  res.onAborted(() => {})
  // A request body is drained before answering (uploads in later scenarios).
  if (req.getMethod() === 'get' || req.getMethod() === 'head') {
    res.cork(() => { res.writeHeader('content-type', 'text/plain').end(body) })
    return
  }
  res.onData((_chunk, last) => { if (last) res.cork(() => { res.writeHeader('content-type', 'text/plain').end(body) }) })
})
app.listen('127.0.0.1', port, (token) => {
  if (token === false) { process.stderr.write(`upstream: cannot listen on ${port}\n`); process.exit(1) }
  process.send?.('ready')
  process.stdout.write(`upstream listening on ${port}\n`)
})
process.on('SIGTERM', () => process.exit(0))
