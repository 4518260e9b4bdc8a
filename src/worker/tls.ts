/**
 * The proxy's TLS listener in one worker: a uWS SSLApp on `proxy_listen`'s `ssl` address (bound
 * with SO_REUSEPORT like the plain one), serving the snapshot's certificates by SNI (tls-plan.ts
 * says which name gets which certificate), and swapped on snapshot changes without a restart.
 *
 * What uWS 20.30 allows (read from its source, uSockets 8cd4cb6 / uWebSockets 20.4x, and tested):
 * - `addServerName(name, files)` on a running SSLApp is safe and immediate. uWS then routes the
 *   requests of a connection that matched `name` to a router of that name only, so every name
 *   gets its handler with `domain(name).any(...)`, which is how a request learns the SNI.
 * - `removeServerName(name)` frees that name's router while connections that matched it may still
 *   be open; their next request runs the freed router: the process crashes (measured: SIGSEGV on
 *   a keep-alive request after removal). So a name is never removed from an App with connections.
 * - `addServerName` with a key or certificate that does not load crashes the process too
 *   (uSockets sets data on the SSL context it failed to build); `SSLApp()` instead throws. Hence
 *   every certificate is checked by tls-plan.ts and then once by building a throwaway SSLApp
 *   from it, before any addServerName.
 * - Nothing frees an App (close() closes its sockets; ~30 KB per App and ~10 KB per name stay),
 *   so Apps are recycled, not dropped.
 * - `domain()` and `removeServerName()` print `finding <name>` / `Browsed to SNI: <name>` on
 *   stdout (std::cout in the native code); there is no way to silence it from JavaScript.
 *
 * Hence, per snapshot:
 * - names only added (a new certificate, a new route SNI): added in place on the serving App.
 *   Names the new snapshot lacks but whose certificate is still what Kong would serve for them
 *   (a deleted route's SNI) are kept: they are still right.
 * - anything removed or re-pointed (a certificate deleted or replaced, an SNI moved, the `*`
 *   certificate changed): a second App is made to match the new plan exactly (a recycled idle one
 *   whose names are re-registered, since removing names from an App without connections is safe,
 *   or a new one), listens on the same address (SO_REUSEPORT), and the old listen socket is
 *   closed after the event loop has polled once more. The old App keeps serving every connection
 *   it accepted, keep-alive ones included; once it has had no request in flight and none started
 *   for 12 s (uWS closes an HTTP connection idle for 10 s), it is closed and kept for recycling.
 *   Linux resets connections that sit in a closed listen socket's accept queue at that instant
 *   (measured under connection churn: ~0.3 per swap without, 0 with net.ipv4.tcp_migrate_req=1,
 *   Linux 5.14+, which moves them to another listener of the port).
 */
import { readFileSync } from 'node:fs'
import type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket, us_socket } from 'uWebSockets.js'
import { log } from '../common/log.ts'
import { defaultCertFiles } from '../common/tls-paths.ts'
import type { Listener } from '../config/listen.ts'
import { prepareRunDir, withPemFiles, type PemFiles } from './tls-files.ts'
import { buildMaterial, KIND_EXACT, KIND_PREFIX, KIND_SUFFIX, type CertMaterial, type Registration, type TlsPlan } from './tls-plan.ts'
import { loadUws } from './uws-load.ts'
import { wsBehavior, type WsUpgrade } from './websocket/behavior.ts'

/** What a request handler knows about the listener (and, over TLS, the server name) it came in on. */
export interface ListenInfo {
  /** The bound port (X-Forwarded-Port). */
  port: number
  tls: boolean
  /** The registered name (exact SNI) or pattern; null: no registration matched (no SNI, or an unknown one). */
  sni: string | null
  sniKind: number
  /** KIND_SUFFIX: `.example.com`; KIND_PREFIX: `example.`. */
  sniPart: string
  /** The App's request counters (TLS only). */
  slot: SlotCounters | null
}

/** Counted per App by its handlers; `inflight` is decremented by lifecycle.ts when a request ends. */
export interface SlotCounters {
  inflight: number
  started: number
}

export type TlsHandler = (res: HttpResponse, req: HttpRequest, info: ListenInfo, ws?: WsUpgrade | null) => void
type ClosableApp = TemplatedApp & { close (): void }

const ACTIVE = 0
const DRAINING = 1
const SPARE = 2
/** uWS closes an HTTP connection idle for 10 s (HTTP_IDLE_TIMEOUT_S); 2 s more for the sweep's granularity. */
const IDLE_MS = 12_000
const SWEEP_MS = 2_000
const MAX_SPARES = 2

class Slot implements SlotCounters {
  inflight = 0
  started = 0
  seenStarted = 0
  zeroSince = 0
  state = ACTIVE
  socket: us_listen_socket | null = null
  readonly app: ClosableApp
  readonly fallbackKey: string
  /** name -> key of the material it serves, and the info its handler passes */
  readonly regs = new Map<string, { cert: string; info: ListenInfo }>()
  readonly defaultInfo: ListenInfo

  constructor (app: ClosableApp, fallbackKey: string, port: number) {
    this.app = app
    this.fallbackKey = fallbackKey
    this.defaultInfo = { port, tls: true, sni: null, sniKind: KIND_EXACT, sniPart: '', slot: this }
  }
}

/**
 * The client's SNI for routing: the registered name, or, on a wildcard registration, the Host
 * header's name when it fits the pattern (uWS does not expose the SNI itself), else the pattern.
 */
export function requestSni (info: ListenInfo, host: string): string | null {
  if (info.sniKind === KIND_EXACT) return info.sni
  if (host.length === 0 || host.charCodeAt(0) === 91) return info.sni // '[': an IPv6 literal
  const colon = host.indexOf(':')
  const h = (colon >= 0 ? host.slice(0, colon) : host).toLowerCase()
  const part = info.sniPart
  if (h.length <= part.length) return info.sni
  if (info.sniKind === KIND_SUFFIX) return h.endsWith(part) && h.lastIndexOf('.', h.length - part.length - 1) < 0 ? h : info.sni
  return h.startsWith(part) && h.indexOf('.', part.length) < 0 ? h : info.sni
}

function sniPart (r: Registration): string {
  return r.kind === KIND_SUFFIX ? r.name.slice(1) : r.kind === KIND_PREFIX ? r.name.slice(0, -1) : ''
}

let migrateNoted = false

function noteMigrate (): void {
  if (migrateNoted || process.platform !== 'linux') return
  migrateNoted = true
  let v = ''
  try { v = readFileSync('/proc/sys/net/ipv4/tcp_migrate_req', 'utf8').trim() } catch {}
  if (v === '0') log.notice('TLS: certificates were removed or replaced, so the TLS listen socket was swapped; set net.ipv4.tcp_migrate_req=1 (sysctl) so that connections waiting in the old socket\'s accept queue at that instant are moved to the new one instead of reset')
}

export interface TlsEndpointOptions {
  listener: Listener
  prefix: string
  handler: TlsHandler
  /** Called once for every new App (connection filters). */
  setup?: (app: TemplatedApp) => void
  /** How long a draining App must be idle before it is closed (default 12 s; tests shorten it). */
  idleMs?: number
  sweepMs?: number
}

export class TlsEndpoint {
  readonly listener: Listener
  port = 0
  readonly #uws: typeof import('uWebSockets.js')
  readonly #handler: TlsHandler
  readonly #setup: ((app: TemplatedApp) => void) | undefined
  readonly #runDir: string
  readonly #idleMs: number
  readonly #sweepMs: number
  readonly #default: CertMaterial
  #active: Slot | null = null
  readonly #draining: Slot[] = []
  readonly #spares: Slot[] = []
  /** Material keys that loaded in a throwaway SSLApp, and those that did not. */
  readonly #loads = new Map<string, boolean>()
  #timer: NodeJS.Timeout | null = null
  #closed = false
  /** Callbacks waiting for a swapped-out listen socket to be closed. */
  #settled: Array<() => void> = []

  constructor (opts: TlsEndpointOptions) {
    this.listener = opts.listener
    this.#uws = loadUws()
    this.#handler = opts.handler
    this.#setup = opts.setup
    this.#idleMs = opts.idleMs ?? IDLE_MS
    this.#sweepMs = opts.sweepMs ?? SWEEP_MS
    const files = defaultCertFiles(opts.prefix)
    let cert: string
    let key: string
    try {
      cert = readFileSync(files.cert, 'utf8')
      key = readFileSync(files.key, 'utf8')
    } catch (err) {
      throw new Error(`proxy_listen ${opts.listener.host}:${opts.listener.port} ssl: the default certificate ${files.cert} cannot be read ` +
        `(${(err as Error).message}); the primary generates it before the workers start`, { cause: err })
    }
    const m = buildMaterial('default', cert, key)
    if (typeof m === 'string') throw new Error(`proxy_listen ${opts.listener.host}:${opts.listener.port} ssl: the default certificate ${files.cert} cannot be served: ${m}`)
    this.#default = m
    this.#runDir = prepareRunDir(opts.prefix)
  }

  /** Names registered on the serving App (for tests and /status). */
  names (): string[] {
    return this.#active === null ? [] : [...this.#active.regs.keys()]
  }

  /** Apps: serving, draining, recycled. */
  apps (): { active: number; draining: number; spare: number } {
    return { active: this.#active === null ? 0 : 1, draining: this.#draining.length, spare: this.#spares.length }
  }

  /** Builds the first App from `plan` and binds it; throws when it cannot. Returns the bound port. */
  listen (plan: TlsPlan): number {
    const slot = withPemFiles(this.#runDir, (files) => this.#build(plan, files))
    const socket = this.#bind(slot, this.listener.port)
    if (socket === false) {
      slot.app.close()
      throw new Error(`could not listen on ${this.listener.host}:${this.listener.port} (ssl)`)
    }
    this.port = this.#uws.us_socket_local_port(socket as unknown as us_socket)
    slot.defaultInfo.port = this.port
    for (const r of slot.regs.values()) r.info.port = this.port
    this.#active = slot
    this.#timer = setInterval(() => { this.#sweep() }, this.#sweepMs)
    this.#timer.unref()
    return this.port
  }

  /** Serves `plan` from now on (see the module comment). Never throws: failures are logged and the current App keeps serving. */
  apply (plan: TlsPlan): void {
    const a = this.#active
    if (this.#closed || a === null) return
    try {
      withPemFiles(this.#runDir, (files) => {
        const fallback = this.#fallback(plan, files)
        let rotate = a.fallbackKey !== fallback.key
        if (!rotate) {
          for (const [name, reg] of a.regs) {
            const want = plan.names.get(name)
            const cert = want !== undefined ? this.#serve(want.cert, fallback, files) : this.#serve(plan.choose(name), fallback, files)
            if (cert.key !== reg.cert) { rotate = true; break }
          }
        }
        if (rotate) { this.#rotate(plan, fallback, files); return }
        let added = 0
        for (const r of plan.names.values()) {
          if (a.regs.has(r.name)) continue
          if (this.#register(a, r, fallback, files)) added++
        }
        if (added > 0) log.debug(`TLS ${this.listener.host}:${this.port}: ${added} server name(s) added`)
      })
    } catch (err) {
      log.error(`TLS ${this.listener.host}:${this.port}: the new certificates could not be applied, the previous ones keep serving: ${(err as Error).stack ?? String(err)}`)
    }
  }

  /**
   * Runs `cb` once new connections can only reach the App serving the latest plan: at once, or
   * after a swap has closed the previous listen socket (two event-loop turns).
   */
  whenSettled (cb: () => void): void {
    if (this.#draining.some((d) => d.socket !== null)) this.#settled.push(cb)
    else cb()
  }

  /** Stops accepting (every listen socket). Connections already open keep being served. */
  closeListen (): void {
    this.#closed = true
    for (const s of [this.#active, ...this.#draining]) {
      if (s !== null && s.socket !== null) {
        this.#uws.us_listen_socket_close(s.socket)
        s.socket = null
      }
    }
    this.#flushSettled()
  }

  /** Closes every connection of every App (before the thread exits). */
  closeAll (): void {
    this.closeListen()
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
    for (const s of [this.#active, ...this.#draining]) if (s !== null) s.app.close()
  }

  // ---- internals ----

  /** Whether uWS can load `m` (a throwaway SSLApp throws where addServerName would crash); cached. */
  #loadable (m: CertMaterial, files: PemFiles): boolean {
    let ok = this.#loads.get(m.key)
    if (ok === undefined) {
      const p = files.path(m.pem)
      try {
        (this.#uws.SSLApp({ key_file_name: p, cert_file_name: p }) as ClosableApp).close()
        ok = true
      } catch {
        ok = false
        log.error(`TLS: certificate ${m.id} (${m.subject}) does not load in uWS; its names get the default certificate`)
      }
      this.#loads.set(m.key, ok)
    }
    return ok
  }

  /** The App certificate: the `*` SNI's when it loads, else the default one. */
  #fallback (plan: TlsPlan, files: PemFiles): CertMaterial {
    return plan.fallback !== null && this.#loadable(plan.fallback, files) ? plan.fallback : this.#default
  }

  /** The material a registration serves (null: the generated default; one that does not load: the fallback). */
  #serve (m: CertMaterial | null, fallback: CertMaterial, files: PemFiles): CertMaterial {
    if (m === null) return this.#default
    return this.#loadable(m, files) ? m : fallback
  }

  #build (plan: TlsPlan, files: PemFiles): Slot {
    const fallback = this.#fallback(plan, files)
    const p = files.path(fallback.pem)
    let app: ClosableApp
    try {
      app = this.#uws.SSLApp({ key_file_name: p, cert_file_name: p }) as ClosableApp
    } catch (err) {
      throw new Error(`TLS: uWS could not load certificate ${fallback.id} (${fallback.subject}): ${(err as Error).message}`, { cause: err })
    }
    const slot = new Slot(app, fallback.key, this.port)
    this.#setup?.(app)
    const handler = this.#handler
    const info = slot.defaultInfo
    app.any('/*', (res, req) => { slot.inflight++; slot.started++; handler(res, req, info) })
    app.ws('/*', wsBehavior((res, req, up) => { slot.inflight++; slot.started++; handler(res, req, info, up) }))
    for (const r of plan.names.values()) this.#register(slot, r, fallback, files)
    return slot
  }

  /** Registers one name on `slot` (which must not have it). */
  #register (slot: Slot, r: Registration, fallback: CertMaterial, files: PemFiles): boolean {
    const m = this.#serve(r.cert, fallback, files)
    const p = files.path(m.pem)
    slot.app.addServerName(r.name, { key_file_name: p, cert_file_name: p })
    const info: ListenInfo = { port: this.port, tls: true, sni: r.name, sniKind: r.kind, sniPart: sniPart(r), slot }
    const handler = this.#handler
    slot.app.domain(r.name).any('/*', (res, req) => { slot.inflight++; slot.started++; handler(res, req, info) })
    slot.app.domain(r.name).ws('/*', wsBehavior((res, req, up) => { slot.inflight++; slot.started++; handler(res, req, info, up) }))
    slot.regs.set(r.name, { cert: m.key, info })
    return true
  }

  /** Makes an idle App (no sockets at all) match `plan` exactly: removing names is safe there. */
  #resync (slot: Slot, plan: TlsPlan, fallback: CertMaterial, files: PemFiles): void {
    for (const [name, reg] of slot.regs) {
      const want = plan.names.get(name)
      if (want === undefined || this.#serve(want.cert, fallback, files).key !== reg.cert) {
        slot.app.removeServerName(name)
        slot.regs.delete(name)
      } else {
        reg.info.port = this.port
      }
    }
    slot.defaultInfo.port = this.port
    for (const r of plan.names.values()) if (!slot.regs.has(r.name)) this.#register(slot, r, fallback, files)
  }

  #bind (slot: Slot, port: number): us_listen_socket | false {
    const got: { socket: us_listen_socket | false } = { socket: false }
    // The listen callback runs synchronously.
    slot.app.listen(this.listener.host, port, (s) => { got.socket = s })
    slot.socket = got.socket === false ? null : got.socket
    return got.socket
  }

  #rotate (plan: TlsPlan, fallback: CertMaterial, files: PemFiles): void {
    const old = this.#active!
    const i = this.#spares.findIndex((s) => s.fallbackKey === fallback.key)
    let slot: Slot
    if (i >= 0) {
      slot = this.#spares.splice(i, 1)[0]!
      this.#resync(slot, plan, fallback, files)
    } else {
      slot = this.#build(plan, files)
    }
    slot.inflight = 0
    slot.started = slot.seenStarted = 0
    slot.zeroSince = 0
    if (this.#bind(slot, this.port) === false) {
      log.error(`TLS: could not listen on ${this.listener.host}:${this.port} for the new certificates; the previous ones keep serving`)
      slot.state = SPARE
      this.#spares.push(slot)
      return
    }
    slot.state = ACTIVE
    this.#active = slot
    old.state = DRAINING
    old.seenStarted = old.started
    old.zeroSince = 0
    this.#draining.push(old)
    log.info(`TLS ${this.listener.host}:${this.port}: certificates changed, new listener with ${slot.regs.size} server name(s); ` +
      `${this.#draining.length} previous one(s) serve their open connections until idle`)
    noteMigrate()
    // Both listen; the old socket is closed once the loop has accepted what its queue holds now.
    setImmediate(() => setImmediate(() => {
      if (old.socket !== null) {
        this.#uws.us_listen_socket_close(old.socket)
        old.socket = null
      }
      this.#flushSettled()
    }))
  }

  #flushSettled (): void {
    if (this.#settled.length === 0 || this.#draining.some((d) => d.socket !== null)) return
    const cbs = this.#settled
    this.#settled = []
    for (const cb of cbs) cb()
  }

  /** Closes draining Apps that have been idle long enough for uWS to have closed their connections. */
  #sweep (): void {
    const now = Date.now()
    for (let i = 0; i < this.#draining.length; i++) {
      const d = this.#draining[i]!
      if (d.socket !== null) continue
      if (d.inflight > 0 || d.started !== d.seenStarted) {
        d.seenStarted = d.started
        d.zeroSince = 0
        continue
      }
      if (d.zeroSince === 0) { d.zeroSince = now; continue }
      if (now - d.zeroSince < this.#idleMs) continue
      this.#draining.splice(i--, 1)
      d.app.close()
      d.state = SPARE
      if (this.#spares.length >= MAX_SPARES) this.#spares.shift() // uWS cannot free it: left to the process
      this.#spares.push(d)
      log.debug(`TLS ${this.listener.host}:${this.port}: a previous listener App is idle and closed`)
    }
  }
}
