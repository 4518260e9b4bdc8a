/**
 * Shared set-up for the admin-*.test.ts files: a migrated test database, the Admin API on a
 * loopback port, and small HTTP helpers (JSON, form, multipart, raw bytes).
 */
import { request as httpRequest } from 'node:http'
import { connect } from 'node:net'
import { loadConfig } from '../../src/config/load.ts'
import { startAdmin } from '../../src/admin/server.ts'
import { createTestDb, type TestDb } from '../helpers/pg.ts'

export const NODE_ID = '11111111-2222-4333-8444-555555555555'

export interface Res { status: number; headers: Record<string, string | string[] | undefined>; text: string; json: any }

export interface Admin {
  db: TestDb
  port: number
  req (method: string, path: string, opts?: { body?: string | Buffer; headers?: Record<string, string> }): Promise<Res>
  json (method: string, path: string, body?: unknown): Promise<Res>
  form (method: string, path: string, body: string): Promise<Res>
  multipart (method: string, path: string, fields: Array<[string, string]>): Promise<Res>
  raw (bytes: string | Buffer): Promise<string>
  /** What the Admin API logged (`error: ...` lines are unexpected 500s). */
  logged: string[]
  close (): Promise<void>
}

export async function startTestAdmin (overrides: Record<string, string> = {}): Promise<Admin> {
  const db = await createTestDb()
  const config = loadConfig({ env: {}, overrides })
  const logged: string[] = []
  const admin = await startAdmin({
    config,
    pool: db.pool,
    nodeId: NODE_ID,
    hostname: 'test-host',
    status: async () => ({ server: { total_requests: 0 }, database: { reachable: true }, configuration_hash: 'abc' }),
    info: () => ({ pids: { master: process.pid, workers: [] } }),
    log: (level, message) => { logged.push(`${level}: ${message}`) },
  }, [{ host: '127.0.0.1', port: 0, ssl: false, http2: false, reuseport: false, backlog: null }])
  const port = admin.ports[0]!
  const req: Admin['req'] = (method, path, opts = {}) => new Promise((resolve, reject) => {
    // An explicit Content-Length: node's client does not frame GET/DELETE bodies by itself.
    const headers = opts.body !== undefined ? { 'Content-Length': String(Buffer.byteLength(opts.body)), ...opts.headers } : opts.headers
    const r = httpRequest({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let json: unknown
        try { json = JSON.parse(text) } catch { json = undefined }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json })
      })
    })
    r.on('error', reject)
    if (opts.body !== undefined) r.write(opts.body)
    r.end()
  })
  return {
    db,
    port,
    req,
    logged,
    json: (method, path, body) => req(method, path, body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } }),
    form: (method, path, body) => req(method, path, { body, headers: { 'Content-Type': 'application/x-www-form-urlencoded' } }),
    multipart: (method, path, fields) => {
      const b = '----sluice-test-boundary'
      const body = fields.map(([k, v]) => `--${b}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`).join('') + `--${b}--\r\n`
      return req(method, path, { body, headers: { 'Content-Type': `multipart/form-data; boundary=${b}` } })
    },
    raw: (bytes) => new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1')
      const chunks: Buffer[] = []
      s.on('data', (c: Buffer) => chunks.push(c))
      s.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')))
      s.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')))
      s.on('error', (e) => { if (chunks.length > 0) resolve(Buffer.concat(chunks).toString('latin1')); else reject(e) })
      s.setTimeout(5000, () => { s.destroy(); resolve(Buffer.concat(chunks).toString('latin1')) })
      // no half-close: node's server aborts requests whose client sent FIN; send
      // `Connection: close` and let the server end the connection
      s.write(bytes)
    }),
    async close () {
      await admin.close()
      await db.drop()
      if (logged.some((l) => l.startsWith('error'))) process.stderr.write(`admin log:\n${logged.join('\n')}\n`)
    },
  }
}
