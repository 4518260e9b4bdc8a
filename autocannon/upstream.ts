/**
 * Benchmark upstream: a uWebSockets.js server answering every request with a 13-byte body
 * ("Hello, World!"), the response size of the proxy-levers measurements; paths starting with `/1mb`
 * get a 1 MiB body instead (scenario (e)). Request bodies are read and dropped. Run as its own process:
 *   node --import tsx autocannon/upstream.ts PORT
 */
import uws from 'uWebSockets.js'

const port = Number(process.argv[2] ?? 9100)
const body = Buffer.from('Hello, World!')
const mb = Buffer.alloc(1 << 20, 'x')
const app = uws.App()
const big = (res: uws.HttpResponse): void => {
  res.onAborted(() => {})
  res.cork(() => { res.writeHeader('content-type', 'application/octet-stream').end(mb) })
}
app.get('/1mb', big)
app.get('/1mb/*', big)
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
