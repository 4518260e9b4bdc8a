/**
 * A real WebSocket upstream for proxy tests: an HTTP(S) server with a `ws` echo on it.
 */
import { once } from 'node:events'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type WebSocket from 'ws'
import { WebSocketServer } from 'ws'

export interface WsUpstream {
  port: number
  server: WebSocketServer
  /** Handshake requests seen, in order. */
  handshakes: IncomingMessage[]
  /** Server-side sockets, in order. */
  sockets: WebSocket[]
  /** The server side of connection number `i` (0-based), once it exists. */
  socket (i: number): Promise<WebSocket>
  close (): Promise<void>
}

/**
 * An HTTP server with a WebSocket echo on it: text stays text, binary stays binary;
 * `/close/<code>` closes with that code, the message `close-me` closes with 4001, handshakes to
 * `/deny` are refused with 403 `nope`; plain requests get 200 `plain <method> <url>`.
 */
export async function startWsUpstream (opts: { protocols?: (offered: Set<string>) => string | false, https?: { cert: string, key: string } } = {}): Promise<WsUpstream> {
  const handshakes: IncomingMessage[] = []
  const sockets: WebSocket[] = []
  const plain = (req: IncomingMessage, res: ServerResponse): void => { req.resume(); res.end(`plain ${req.method} ${req.url} upgrade=${req.headers.upgrade ?? ''}`) }
  const http = opts.https === undefined ? createServer(plain) : createHttpsServer(opts.https, plain)
  const server = new WebSocketServer({
    server: http,
    maxPayload: 64 * 1024 * 1024,
    handleProtocols: opts.protocols ?? ((offered) => offered.size > 0 ? [...offered][offered.size - 1]! : false),
    verifyClient: (info, cb) => { if ((info.req.url ?? '').includes('/deny')) cb(false, 403, 'nope'); else cb(true) },
  })
  http.listen(0, '127.0.0.1')
  await once(http, 'listening')
  server.on('connection', (ws, req) => {
    handshakes.push(req)
    sockets.push(ws)
    const m = /^\/close\/(\d+)/.exec(req.url ?? '')
    if (m !== null) {
      ws.close(Number(m[1]), 'bye from upstream')
      return
    }
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? '' : data.toString()
      if (text === 'close-me') { ws.close(4001, 'asked to'); return }
      ws.send(data, { binary: isBinary })
    })
  })
  const port = (http.address() as { port: number }).port
  return {
    port,
    server,
    handshakes,
    sockets,
    async socket (i) {
      while (sockets.length <= i) await once(server, 'connection')
      return sockets[i]!
    },
    close: () => new Promise<void>((resolve) => {
      for (const c of server.clients) c.terminate()
      server.close()
      http.closeAllConnections()
      http.close(() => { resolve() })
    }),
  }
}

