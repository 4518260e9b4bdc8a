/**
 * Name resolution with a TTL cache, as Kong's DNS client does it for balancer targets and plain
 * service hosts (kong.conf `dns_*` keys; kong/resty/dns/client.lua behaviour, not its code).
 * Usable from any thread: the worker balancers and the primary's active health checker each hold
 * their own DnsCache.
 *
 *   resolve(name)
 *     IP literal ------------------------------------------> [{ ip, ttl: Infinity }]
 *     hosts file entry (dns_hostsfile, read once) ----------> its addresses (A / AAAA per dns_order)
 *     cached and fresh ------------------------------------> cached answer
 *     cached, expired, within dns_stale_ttl ---------------> stale answer now, one refresh in background
 *     otherwise: one query per name in flight (callers share it), record types in dns_order:
 *       LAST   the type that last answered for this name (skipped until one did)
 *       SRV    each record of the lowest priority -> its target's A records, with the SRV port/weight
 *       A/AAAA the addresses
 *       CNAME  the alias, resolved again (depth-bounded)
 *     first type with a non-empty answer wins; cached for its TTL (dns_valid_ttl overrides it).
 *     No answer at all: NXDOMAIN / empty -> DnsError(notFound) cached dns_not_found_ttl seconds,
 *     any other failure -> DnsError cached dns_error_ttl seconds; a stale answer still in its
 *     stale window keeps being served over a cached failure.
 *
 * Deviation from Kong: hosts-file names are answered before any query (Kong would first ask the
 * server for an SRV record when SRV comes before A in dns_order); `localhost` therefore works with
 * any resolver, and is added (127.0.0.1, ::1) when the hosts file lacks it, as Kong's client does.
 * TTL 0 answers are cached for 0 s: every resolve() asks again (Kong resolves such names per try).
 *
 * Statistics (stats(); GET /status/dns with new_dns_client on) are counted in the shape of Kong's new
 * DNS client (kong/dns/client.lua, kong/dns/stats.lua): one entry per `<name>|<type>` key.
 *   `<name>|SRV` (names like `_service._proto.name`) or `<name>|A/AAAA` (any other): the lookups
 *     asked of the cache (resolve, refresh, a peek that answered): `runs`, and how each was
 *     answered: `hit_lru` (cached, a hosts-file name or an IP literal seen before), `hit_stale` (a
 *     stale answer), `miss` (a query; the first sight of an IP literal), `fail` (a query that ended
 *     in a resolver failure other than a name error); `stale`: background refreshes started.
 *   `<name>|<A, AAAA, SRV or CNAME>`: the queries sent: `query`, then `query_succ`, or
 *     `query_fail:<reason>` (`name error`, `empty record received`, `server failure`, `refused`,
 *     ...), or `query_fail_nameserver` (no usable answer: timeout, connection refused);
 *     `query_last_time`: ms the last one took.
 * Counting costs one Map lookup per call on names already seen; a lookup that a caller keeps
 * serving from its own copy (the balancers) is not counted again per request, unlike Kong's per-try
 * resolution.
 */
import { Resolver } from 'node:dns/promises'
import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'

export interface DnsAddress {
  ip: string
  /** From an SRV record; otherwise the caller's port applies. */
  port?: number
  /** From an SRV record (its weight). */
  weight?: number
  /** Seconds the answer was valid for when received (Infinity for literals and hosts entries). */
  ttl: number
}

export type DnsRecordType = 'LAST' | 'SRV' | 'A' | 'AAAA' | 'CNAME'

export interface DnsOptions {
  /** `ip[:port]` nameservers; null or empty: the system's (resolv.conf). */
  resolvers?: readonly string[] | null
  /** Read once; '' to use none. Default /etc/hosts. */
  hostsFile?: string
  order?: readonly DnsRecordType[]
  /** Seconds overriding every record's TTL; null: the records' own. */
  validTtl?: number | null
  staleTtl?: number
  notFoundTtl?: number
  errorTtl?: number
  /** Per query attempt (ms). */
  timeoutMs?: number
  tries?: number
}

/** A failed resolution; `notFound` for NXDOMAIN / empty answers (Kong's 503 "name resolution failed"). */
export class DnsError extends Error {
  readonly code: string
  readonly notFound: boolean
  constructor (name: string, code: string, notFound: boolean) {
    super(`dns resolution of ${name} failed: ${code}`)
    this.name = 'DnsError'
    this.code = code
    this.notFound = notFound
  }
}

/** One `<name>|<type>` entry of the statistics: counter name -> value (Kong's names). */
export type DnsStatsEntry = Record<string, number>

/** stats(): the entries, and when each key's `query_last_time` was taken (ms epoch; for merging). */
export interface DnsStatsReport {
  stats: Record<string, DnsStatsEntry>
  lastAt: Record<string, number>
}

/** kong/dns/utils.lua is_srv: `_service._proto.name`. */
const SRV_NAME = /^_[^._]+\._[^._]+\.[^.]+/

/** lua-resty-dns error strings by RCODE, as Kong's `query_fail:<errstr>` keys name them. */
const RCODE_TEXT: Record<string, string> = {
  EFORMERR: 'format error',
  ESERVFAIL: 'server failure',
  ENOTFOUND: 'name error',
  ENOTIMP: 'not implemented',
  EREFUSED: 'refused',
  ENODATA: 'empty record received',
}

interface Entry {
  addresses: DnsAddress[] | null
  error: DnsError | null
  /** ms epoch: fresh until then. */
  expiresAt: number
  /** ms epoch: a stale `addresses` may be served until then. */
  staleUntil: number
  pending: Promise<DnsAddress[]> | null
}

const DEFAULT_ORDER: readonly DnsRecordType[] = ['LAST', 'SRV', 'A', 'CNAME']
const NOT_FOUND_CODES = new Set(['ENOTFOUND', 'ENODATA', 'NXDOMAIN', 'ENONAME'])
const MAX_CNAME_DEPTH = 8

/** Options from Kong's raw config keys (`config.raw`: dns_resolver, dns_hostsfile, dns_order, dns_*_ttl). */
export function dnsOptionsFromConfig (raw: Partial<Record<string, string>>): DnsOptions {
  const list = (v: string | undefined): string[] => (v ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '' && s.toUpperCase() !== 'NONE')
  const num = (v: string | undefined, d: number): number => {
    if (v === undefined || v.trim() === '' || v.trim().toUpperCase() === 'NONE') return d
    const n = Number(v)
    return Number.isFinite(n) && n >= 0 ? n : d
  }
  const order = list(raw.dns_order).map((s) => s.toUpperCase()).filter((s): s is DnsRecordType => s === 'LAST' || s === 'SRV' || s === 'A' || s === 'AAAA' || s === 'CNAME')
  const valid = raw.dns_valid_ttl
  return {
    resolvers: list(raw.dns_resolver),
    hostsFile: raw.dns_hostsfile ?? '/etc/hosts',
    order: order.length > 0 ? order : DEFAULT_ORDER,
    validTtl: valid === undefined || valid.trim() === '' || valid.trim().toUpperCase() === 'NONE' ? null : num(valid, 0),
    staleTtl: num(raw.dns_stale_ttl, 3600),
    notFoundTtl: num(raw.dns_not_found_ttl, 30),
    errorTtl: num(raw.dns_error_ttl, 1),
  }
}

/** `/etc/hosts` format: `ip name [alias...]`, `#` comments. Names lowercased. */
export function parseHosts (text: string): Map<string, { v4: string[]; v6: string[] }> {
  const out = new Map<string, { v4: string[]; v6: string[] }>()
  for (const line of text.split('\n')) {
    const hash = line.indexOf('#')
    const parts = (hash >= 0 ? line.slice(0, hash) : line).trim().split(/\s+/)
    if (parts.length < 2) continue
    let ip = parts[0]!
    const zone = ip.indexOf('%')
    if (zone >= 0) ip = ip.slice(0, zone)
    const family = isIP(ip)
    if (family === 0) continue
    for (let i = 1; i < parts.length; i++) {
      const name = parts[i]!.toLowerCase()
      let e = out.get(name)
      if (e === undefined) { e = { v4: [], v6: [] }; out.set(name, e) }
      const list = family === 4 ? e.v4 : e.v6
      if (!list.includes(ip)) list.push(ip)
    }
  }
  return out
}

export class DnsCache {
  readonly #resolver: Resolver
  readonly #hosts: Map<string, { v4: string[]; v6: string[] }>
  readonly #order: readonly DnsRecordType[]
  readonly #validTtl: number | null
  readonly #staleMs: number
  readonly #notFoundMs: number
  readonly #errorMs: number
  readonly #entries = new Map<string, Entry>()
  /** Record type that last answered, per name (dns_order `LAST`). */
  readonly #last = new Map<string, Exclude<DnsRecordType, 'LAST'>>()
  /** Statistics by `<name>|<type>` key (see the module comment). */
  readonly #stats = new Map<string, DnsStatsEntry>()
  /** name (as asked) -> its `<name>|SRV` or `<name>|A/AAAA` entry: no key built per call. */
  readonly #runStats = new Map<string, DnsStatsEntry>()
  readonly #lastAt = new Map<string, number>()

  constructor (opts: DnsOptions = {}) {
    this.#resolver = new Resolver({ timeout: opts.timeoutMs ?? 2000, tries: opts.tries ?? 2 })
    const servers = opts.resolvers ?? []
    if (servers.length > 0) this.#resolver.setServers(servers as string[])
    const file = opts.hostsFile ?? '/etc/hosts'
    let text = ''
    if (file !== '') {
      try { text = readFileSync(file, 'utf8') } catch { text = '' }
    }
    this.#hosts = parseHosts(text)
    if (!this.#hosts.has('localhost')) this.#hosts.set('localhost', { v4: ['127.0.0.1'], v6: ['::1'] })
    this.#order = opts.order ?? DEFAULT_ORDER
    this.#validTtl = opts.validTtl ?? null
    this.#staleMs = (opts.staleTtl ?? 3600) * 1000
    this.#notFoundMs = (opts.notFoundTtl ?? 30) * 1000
    this.#errorMs = (opts.errorTtl ?? 1) * 1000
  }

  /**
   * The addresses now, without I/O: an IP literal, a hosts entry, or a cached answer that is fresh
   * or still within its stale window (a stale one starts a background refresh). undefined: not
   * cached (call resolve()); a DnsError: the cached failure.
   */
  peek (name: string): DnsAddress[] | DnsError | undefined {
    const fixed = this.#fixed(name)
    if (fixed !== null) { this.#countFixed(name); return fixed }
    const key = name.toLowerCase()
    const e = this.#entries.get(key)
    if (e === undefined) return undefined
    const now = Date.now()
    if (now < e.expiresAt) {
      const known = e.addresses ?? e.error ?? undefined
      if (known !== undefined) bump(this.#runEntry(key, true), 'hit_lru')
      return known
    }
    if (e.addresses !== null && now < e.staleUntil) {
      bump(this.#runEntry(key, true), 'hit_stale')
      this.#refresh(key, e)
      return e.addresses
    }
    return undefined
  }

  /** ms epoch at which the cached answer for `name` expires (Infinity for literals and hosts entries; 0 if not cached). */
  expiresAt (name: string): number {
    if (this.#fixed(name) !== null) return Infinity
    return this.#entries.get(name.toLowerCase())?.expiresAt ?? 0
  }

  /** The addresses of `name`; rejects with a DnsError. */
  resolve (name: string): Promise<DnsAddress[]> {
    const fixed = this.#fixed(name)
    if (fixed !== null) { this.#countFixed(name); return Promise.resolve(fixed) }
    const key = name.toLowerCase()
    const st = this.#runEntry(key, true)
    const e = this.#entries.get(key)
    const now = Date.now()
    if (e !== undefined) {
      if (now < e.expiresAt) {
        if (e.addresses !== null) { bump(st, 'hit_lru'); return Promise.resolve(e.addresses) }
        if (e.error !== null) { bump(st, 'hit_lru'); return Promise.reject(e.error) }
      }
      if (e.addresses !== null && now < e.staleUntil) {
        bump(st, 'hit_stale')
        this.#refresh(key, e)
        return Promise.resolve(e.addresses)
      }
      if (e.pending !== null) return countOutcome(st, e.pending)
    }
    return countOutcome(st, this.#query(key, e))
  }

  /**
   * Asks again now (sharing a query already in flight), whatever the cache holds: for a holder
   * refreshing on TTL expiry that wants the new answer. A failure still yields a stale answer
   * within its window.
   */
  refresh (name: string): Promise<DnsAddress[]> {
    const fixed = this.#fixed(name)
    if (fixed !== null) { this.#countFixed(name); return Promise.resolve(fixed) }
    const key = name.toLowerCase()
    const st = this.#runEntry(key, true)
    const e = this.#entries.get(key)
    if (e !== undefined && e.pending !== null) return countOutcome(st, e.pending)
    return countOutcome(st, this.#query(key, e))
  }

  /** A copy of the statistics (see the module comment); mergeDnsStats() adds up several threads'. */
  stats (): DnsStatsReport {
    const stats: Record<string, DnsStatsEntry> = {}
    for (const [k, v] of this.#stats) stats[k] = { ...v }
    const lastAt: Record<string, number> = {}
    for (const [k, v] of this.#lastAt) lastAt[k] = v
    return { stats, lastAt }
  }

  /** The `<name>|SRV` or `<name>|A/AAAA` entry of `name` (created on first use); `run` counts one run. */
  #runEntry (name: string, run: boolean): DnsStatsEntry {
    let st = this.#runStats.get(name)
    if (st === undefined) {
      const lower = name.toLowerCase()
      st = this.#entry(`${lower}|${SRV_NAME.test(lower) ? 'SRV' : 'A/AAAA'}`)
      this.#runStats.set(name, st)
    }
    if (run) st.runs = (st.runs ?? 0) + 1
    return st
  }

  #entry (key: string): DnsStatsEntry {
    let st = this.#stats.get(key)
    if (st === undefined) { st = {}; this.#stats.set(key, st) }
    return st
  }

  /** An IP literal or hosts-file name: answered from memory; an IP literal's first sight is Kong's miss. */
  #countFixed (name: string): void {
    const st = this.#runEntry(name, true)
    if (st.runs === 1 && (isIP(name) !== 0 || name.startsWith('['))) bump(st, 'miss')
    else bump(st, 'hit_lru')
  }

  /** One query sent: `query`, its outcome, and how long it took. */
  async #ask<T> (name: string, type: Exclude<DnsRecordType, 'LAST'>, send: () => Promise<T[]>): Promise<T[]> {
    const key = `${name}|${type}`
    const st = this.#entry(key)
    bump(st, 'query')
    const t0 = Date.now()
    const took = (): void => {
      const now = Date.now()
      st.query_last_time = now - t0
      this.#lastAt.set(key, now)
    }
    let found: T[]
    try {
      found = await send()
    } catch (err) {
      took()
      const reason = RCODE_TEXT[codeOf(err)]
      bump(st, reason === undefined ? 'query_fail_nameserver' : `query_fail:${reason}`)
      throw err
    }
    took()
    bump(st, found.length > 0 ? 'query_succ' : 'query_fail:empty record received')
    return found
  }

  #fixed (name: string): DnsAddress[] | null {
    if (isIP(name) !== 0) return [{ ip: name, ttl: Infinity }]
    if (name.startsWith('[') && name.endsWith(']') && isIP(name.slice(1, -1)) === 6) return [{ ip: name.slice(1, -1), ttl: Infinity }]
    const h = this.#hosts.get(name.toLowerCase())
    if (h === undefined) return null
    const out: DnsAddress[] = []
    for (const t of this.#order) {
      if ((t === 'A' || t === 'LAST' || t === 'SRV' || t === 'CNAME') && out.length === 0) for (const ip of h.v4) out.push({ ip, ttl: Infinity })
      if (t === 'AAAA' && out.length === 0) for (const ip of h.v6) out.push({ ip, ttl: Infinity })
    }
    if (out.length === 0) for (const ip of h.v4.length > 0 ? h.v4 : h.v6) out.push({ ip, ttl: Infinity })
    return out
  }

  #refresh (key: string, e: Entry): void {
    if (e.pending !== null) return
    bump(this.#runEntry(key, false), 'stale')
    this.#query(key, e).catch(() => { /* the stale answer stays until its window ends */ })
  }

  #query (key: string, prev: Entry | undefined): Promise<DnsAddress[]> {
    const entry: Entry = prev ?? { addresses: null, error: null, expiresAt: 0, staleUntil: 0, pending: null }
    if (prev === undefined) this.#entries.set(key, entry)
    const p = this.#lookup(key, 0).then((addresses) => {
      entry.pending = null
      let ttl = Infinity
      for (const a of addresses) if (a.ttl < ttl) ttl = a.ttl
      if (this.#validTtl !== null) ttl = this.#validTtl
      const now = Date.now()
      entry.addresses = addresses
      entry.error = null
      entry.expiresAt = now + ttl * 1000
      entry.staleUntil = entry.expiresAt + this.#staleMs
      return addresses
    }, (err: unknown) => {
      entry.pending = null
      const error = err instanceof DnsError ? err : new DnsError(key, codeOf(err), false)
      const now = Date.now()
      entry.error = error
      entry.expiresAt = now + (error.notFound ? this.#notFoundMs : this.#errorMs)
      // A stale answer within its window is served over the failure.
      if (entry.addresses !== null && now < entry.staleUntil) return entry.addresses
      entry.addresses = null
      throw error
    })
    entry.pending = p
    return p
  }

  async #lookup (name: string, depth: number): Promise<DnsAddress[]> {
    let allNotFound = true
    let lastCode = 'ENOTFOUND'
    const last = this.#last.get(name)
    const tried: Array<Exclude<DnsRecordType, 'LAST'>> = []
    for (const t of this.#order) {
      const type = t === 'LAST' ? last : t
      if (type === undefined || tried.includes(type)) continue
      tried.push(type)
      try {
        const found = await this.#lookupType(name, type, depth)
        if (found.length > 0) {
          this.#last.set(name, type)
          return found
        }
      } catch (err) {
        const code = err instanceof DnsError ? err.code : codeOf(err)
        const notFound = err instanceof DnsError ? err.notFound : NOT_FOUND_CODES.has(code)
        if (!notFound) { allNotFound = false; lastCode = code }
      }
    }
    throw new DnsError(name, allNotFound ? 'ENOTFOUND' : lastCode, allNotFound)
  }

  async #lookupType (name: string, type: Exclude<DnsRecordType, 'LAST'>, depth: number): Promise<DnsAddress[]> {
    const r = this.#resolver
    switch (type) {
      case 'A': {
        const recs = await this.#ask(name, type, () => r.resolve4(name, { ttl: true }))
        return recs.map((x) => ({ ip: x.address, ttl: x.ttl }))
      }
      case 'AAAA': {
        const recs = await this.#ask(name, type, () => r.resolve6(name, { ttl: true }))
        return recs.map((x) => ({ ip: x.address, ttl: x.ttl }))
      }
      case 'CNAME': {
        if (depth >= MAX_CNAME_DEPTH) return []
        const names = await this.#ask(name, type, () => r.resolveCname(name))
        const alias = names[0]
        if (alias === undefined) return []
        const fixed = this.#fixed(alias)
        return fixed ?? await this.#lookup(alias.toLowerCase(), depth + 1)
      }
      case 'SRV': {
        const recs = await this.#ask(name, type, () => r.resolveSrv(name))
        if (recs.length === 0) return []
        let best = Infinity
        for (const s of recs) if (s.priority < best) best = s.priority
        const out: DnsAddress[] = []
        for (const s of recs) {
          if (s.priority !== best) continue
          // Each SRV target is a lookup of its own (Kong: resolve_address -> `<target>|A/AAAA`).
          let ips = this.#fixed(s.name)
          if (ips !== null) this.#countFixed(s.name)
          else {
            const target = s.name.toLowerCase()
            const st = this.#runEntry(target, true)
            ips = await countOutcome(st, this.#lookup(target, depth + 1)).catch(() => [] as DnsAddress[])
          }
          for (const a of ips) out.push({ ip: a.ip, port: s.port, weight: s.weight, ttl: a.ttl })
        }
        return out
      }
    }
  }
}

/** Adds up the statistics of several DnsCaches (a node's threads); `query_last_time` is the latest one's. */
export function mergeDnsStats (reports: readonly DnsStatsReport[]): Record<string, DnsStatsEntry> {
  const out: Record<string, DnsStatsEntry> = {}
  const latest: Record<string, number> = {}
  for (const rep of reports) {
    for (const [key, entry] of Object.entries(rep.stats)) {
      const into = out[key] ??= {}
      for (const [counter, v] of Object.entries(entry)) {
        if (counter === 'query_last_time') {
          const at = rep.lastAt[key] ?? 0
          if (into.query_last_time === undefined || at >= (latest[key] ?? 0)) { into.query_last_time = v; latest[key] = at }
        } else into[counter] = (into[counter] ?? 0) + v
      }
    }
  }
  return out
}

function bump (st: DnsStatsEntry, counter: string): void {
  st[counter] = (st[counter] ?? 0) + 1
}

/** Kong's hit level of a lookup that needed a query: `miss`, or `fail` when the resolver failed (not a name error). */
function countOutcome<T> (st: DnsStatsEntry, p: Promise<T>): Promise<T> {
  p.then(() => { bump(st, 'miss') }, (err: unknown) => { bump(st, err instanceof DnsError && !err.notFound ? 'fail' : 'miss') })
  return p
}

function codeOf (err: unknown): string {
  if (err !== null && typeof err === 'object') {
    const c = (err as { code?: unknown }).code
    if (typeof c === 'string') return c
  }
  return 'ESERVFAIL'
}
