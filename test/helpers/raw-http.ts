/**
 * One HTTP/1.1 exchange over a raw socket, for requests undici will not send (Expect:
 * 100-continue, hand-made chunked framing): writes `head` (and `body` unless told to wait for the
 * answer first), then parses one response with a Content-Length body, skipping 1xx responses.
 */
import { connect } from 'node:net'

export interface RawResponse { status: number; headers: Record<string, string>; body: string }

export function rawExchange (port: number, head: string, body: Buffer | string | null = null): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => {
      s.write(head)
      if (body !== null) s.write(body)
    })
    let buf = Buffer.alloc(0)
    const timer = setTimeout(() => { s.destroy(); reject(new Error(`no complete response: ${buf.toString('latin1').slice(0, 200)}`)) }, 10_000)
    const tryParse = (): boolean => {
      for (;;) {
        const end = buf.indexOf('\r\n\r\n')
        if (end < 0) return false
        const lines = buf.subarray(0, end).toString('latin1').split('\r\n')
        const status = Number(lines[0]!.split(' ')[1])
        const headers: Record<string, string> = {}
        for (const l of lines.slice(1)) {
          const i = l.indexOf(':')
          headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim()
        }
        if (status < 200) { buf = buf.subarray(end + 4); continue }
        const len = Number(headers['content-length'] ?? '0')
        if (buf.length < end + 4 + len) return false
        clearTimeout(timer)
        s.destroy()
        resolve({ status, headers, body: buf.subarray(end + 4, end + 4 + len).toString() })
        return true
      }
    }
    s.on('data', (d: Buffer) => { buf = Buffer.concat([buf, d]); tryParse() })
    s.on('error', (e) => { if (!tryParse()) { clearTimeout(timer); reject(e) } })
    s.on('close', () => { if (!tryParse()) { clearTimeout(timer); reject(new Error(`closed: ${buf.toString('latin1').slice(0, 200)}`)) } })
  })
}

/** A chunked body in one chunk plus the terminator. */
export function chunked (payload: Buffer | string): Buffer {
  const b = typeof payload === 'string' ? Buffer.from(payload) : payload
  return Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from('\r\n0\r\n\r\n')])
}
