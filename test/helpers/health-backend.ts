/**
 * An upstream server for health-check tests: `GET /health` answers `health` (counting the probes
 * and the Host each carried), any other request answers `status` with the backend's name as the
 * body (counting them), so a test can see both what the prober got and where traffic went.
 */
import { once } from 'node:events'
import { createServer, type Server } from 'node:http'

export interface HealthBackend {
  server: Server
  port: number
  name: string
  /** Status of `/health`. */
  health: number
  /** Status of every other request. */
  status: number
  probes: number
  /** Host header of each probe. */
  hosts: string[]
  served: number
  close (): Promise<void>
}

export async function healthBackend (name = 'backend'): Promise<HealthBackend> {
  const b: HealthBackend = {
    server: createServer(), port: 0, name, health: 200, status: 200, probes: 0, hosts: [], served: 0,
    close: () => new Promise<void>((resolve) => { b.server.closeAllConnections(); b.server.close(() => resolve()) }),
  }
  b.server.on('request', (req, res) => {
    if (req.url === '/health') { b.probes++; b.hosts.push(String(req.headers.host)); res.statusCode = b.health; res.end(); return }
    b.served++
    res.statusCode = b.status
    res.end(name)
  })
  b.server.listen(0, '127.0.0.1')
  await once(b.server, 'listening')
  b.port = (b.server.address() as { port: number }).port
  return b
}
