/**
 * A free loopback TCP port for a server a test starts later (listen(0) per worker would give each
 * worker its own port).
 *
 * Picked at random below the kernel's ephemeral range (net.ipv4.ip_local_port_range, 32768-60999 by
 * default), not by listen(0): a port the kernel hands out from that range can be taken, before the
 * test binds it, as the local port of any outgoing connection (PostgreSQL, upstreams, other test
 * files running at the same time). Seen in CI: `listen EADDRINUSE 127.0.0.1:38683` for a port that
 * listen(0) had just returned. Below the range only another test's pick can collide, and the port is
 * checked bindable first.
 */
import { createServer } from 'node:net'

const LOW = 20_000
const HIGH = 32_000

function tryPort (port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer()
    s.unref()
    s.once('error', () => { resolve(false) })
    s.listen(port, '127.0.0.1', () => { s.close(() => { resolve(true) }) })
  })
}

export async function freePort (): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW))
    if (await tryPort(port)) return port
  }
  throw new Error(`freePort: no bindable port found in ${LOW}-${HIGH}`)
}
