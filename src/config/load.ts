/**
 * Builds the one typed Config: defaults (defaults.ts) < kong.conf-style file < KONG_<KEY> <
 * SLUICE_<KEY> < explicit overrides. A bad value throws a ConfigError naming the key; nothing
 * starts with a half-valid configuration.
 */
import { readFileSync, statSync } from 'node:fs'
import { isIP } from 'node:net'
import { availableParallelism } from 'node:os'
import { resolve } from 'node:path'
import { CONFIG_KEYS, type ConfigKey, type KeySpec } from './defaults.ts'
import { parseListen, type Listener } from './listen.ts'
import { ALIASES, KONG_DIRECTIVE_PREFIXES, KONG_ONLY_KEYS } from './kong-keys.ts'

export class ConfigError extends Error {
  readonly errors: string[]
  constructor (errors: string[]) {
    super(errors.join('\n'))
    this.name = 'ConfigError'
    this.errors = errors
  }
}

/** Raw values after layering, still strings. */
export type RawConfig = Record<ConfigKey, string>

export interface Config {
  raw: RawConfig
  /** Where each key's value came from: default, file path, or the env var name. */
  sources: Partial<Record<ConfigKey, string>>
  prefix: string
  logLevel: string
  proxyListen: Listener[]
  adminListen: Listener[]
  statusListen: Listener[]
  workers: number
  database: 'postgres' | 'off'
  declarativeConfig: string | null
  /** null: embedded PostgreSQL under <prefix>/pgdata. */
  pg: null | PgSettings
  pgTimeout: number
  pgMaxConcurrentQueries: number
  pgEmbeddedPort: number
  pgSchema: string | null
  dbUpdateFrequencyMs: number
  trustedIps: string[]
  realIpHeader: string
  realIpRecursive: boolean
  headers: Set<string>
  headersUpstream: Set<string>
  errorDefaultType: string
  clientMaxBodySize: number
  adminMaxBodySize: number
  largeHeaderBufferSize: number
  largeHeaderBuffers: number
  clientHeaderTimeoutMs: number
  clientBodyTimeoutMs: number
  /** lua_max_req_headers: header fields the router and plugins see. */
  luaMaxReqHeaders: number
  /** lua_max_uri_args: query arguments kong.request.get_query returns. */
  luaMaxUriArgs: number
  /** lua_max_post_args: form arguments kong.request.get_body returns. */
  luaMaxPostArgs: number
  /** nginx_events_worker_connections resolved (`auto`: ulimit -n within 1024..16384). */
  workerConnections: number
  upstreamKeepalivePoolSize: number
  upstreamKeepaliveMaxRequests: number
  upstreamKeepaliveIdleTimeoutMs: number
  /** proxy_ssl_verify: verify https upstreams whose service has tls_verify null. */
  proxySslVerify: boolean
  /** proxy_ssl_verify_depth: for services whose tls_verify_depth is null. */
  proxySslVerifyDepth: number
  /** proxy_ssl_trusted_certificate read: PEM text, `system`, or null (none: nothing is trusted). */
  proxySslTrusted: string | null
  upstreamTransport: 'undici' | 'net'
  allowDebugHeader: boolean
  plugins: string[]
  drainTimeoutMs: number
  nodeId: string | null
  /** nginx_daemon: `sluice start` daemonises (Kong's KONG_NGINX_DAEMON=off keeps it in the foreground). */
  daemon: boolean
  /** Keys the file set that Sluice ignores (Kong-only settings, nginx injections, typos); for `sluice check`. */
  warnings?: string[]
}

export interface PgSettings {
  host: string
  port: number
  user: string
  password: string
  database: string
  ssl: boolean
  sslVerify: boolean
}

export interface LoadOptions {
  /** kong.conf-style file; when absent, no file is read. */
  file?: string | null
  env?: NodeJS.ProcessEnv
  overrides?: Partial<Record<string, string>>
}

/**
 * kong.conf syntax (Penlight's config reader as Kong uses it): `key = value` lines; lines that
 * start with `#` or `;` and blank lines are skipped; a line ending in `\` continues on the next;
 * a trailing `# comment` is dropped unless the `#` is escaped as `\#`; quotes are kept as part of
 * the value (as Kong does). Characters other than letters, digits and `_` in a key become `_`.
 */
export function parseConfFile (text: string, path: string): Array<[string, string, number]> {
  // Logical lines first: comment lines skipped, `\` continuations joined.
  const logical: Array<[string, number]> = []
  let pending: [string, number] | null = null
  const lines = text.split(/\r?\n/)
  for (let i = 0; i < lines.length; i++) {
    const rawLine = lines[i]!
    if (!/\S/.test(rawLine) || /^\s*[;#]/.test(rawLine)) continue
    const cont = /\\\s*$/.exec(rawLine)
    const part = cont === null ? rawLine : rawLine.slice(0, cont.index)
    pending = pending === null ? [part, i + 1] : [pending[0] + part, pending[1]]
    if (cont === null) { logical.push(pending); pending = null }
  }
  if (pending !== null) logical.push(pending)
  const out: Array<[string, string, number]> = []
  for (const [text, lineNo] of logical) {
    let line = text
    const hash = line.search(/(?<!\\)#/)
    if (hash >= 0) line = line.slice(0, hash)
    line = line.replace(/\\#/g, '#').trim()
    if (line === '') continue
    const eq = line.indexOf('=')
    if (eq <= 0) throw new ConfigError([`${path}:${lineNo}: expected 'key = value', got '${line}'`])
    out.push([line.slice(0, eq).trim().toLowerCase().replace(/\W/g, '_'), line.slice(eq + 1).trim(), lineNo])
  }
  return out
}

function isKey (k: string): k is ConfigKey {
  return Object.hasOwn(CONFIG_KEYS, k)
}

/** Where Kong looks for kong.conf when no -c is given; Sluice looks at its own path first. */
export const DEFAULT_CONF_PATHS = ['/etc/sluice/sluice.conf', '/etc/kong/kong.conf', '/etc/kong.conf'] as const

/** What the file (or env) set that Sluice does not use; `sluice check` prints these. */
function noteUnused (k: string, where: string, warnings: string[]): void {
  if (KONG_ONLY_KEYS.has(k)) warnings.push(`${where}: ${k} is a Kong setting Sluice does not implement; ignored`)
  else if (KONG_DIRECTIVE_PREFIXES.some((p) => k.startsWith(p))) warnings.push(`${where}: ${k} is an nginx directive injection; Sluice has no nginx.conf; ignored`)
  else warnings.push(`${where}: unknown key ${k}; ignored`)
}

export function loadConfig (opts: LoadOptions = {}): Config {
  const env = opts.env ?? process.env
  const raw = {} as RawConfig
  const sources: Partial<Record<ConfigKey, string>> = {}
  for (const k of Object.keys(CONFIG_KEYS) as ConfigKey[]) raw[k] = CONFIG_KEYS[k].default

  const errors: string[] = []
  const warnings: string[] = []
  // One layer (file, KONG_*, SLUICE_*, overrides): its own keys first, then Kong's aliases for keys
  // this layer did not set itself.
  const layer = (entries: Array<[string, string, string]>, unknownIsError: boolean): void => {
    const setHere = new Set<string>()
    const aliased: Array<[string, string, string]> = []
    for (const [k, v, where] of entries) {
      if (isKey(k)) { raw[k] = v; sources[k] = where; setHere.add(k); continue }
      if (Object.hasOwn(ALIASES, k)) { aliased.push([k, v, where]); continue }
      if (k === 'role' && v.trim() !== '' && v.trim() !== 'traditional') {
        errors.push(`role (from ${where}): '${v.trim()}' is not supported: Sluice has no hybrid mode (control_plane / data_plane); use role = traditional`)
        continue
      }
      if (k === 'role') continue
      if (unknownIsError) errors.push(`${k}: unknown configuration key`)
      else noteUnused(k, where, warnings)
    }
    for (const [k, v, where] of aliased) {
      const a = ALIASES[k]!
      if (setHere.has(a.to)) continue
      const value = a.convert === undefined ? v : a.convert(v)
      if (value === null) { errors.push(`${k} (from ${where}): expected ${a.expected ?? 'a valid value'}; got '${v}'`); continue }
      raw[a.to] = value
      sources[a.to] = `${where} as ${k}`
    }
  }
  if (opts.file != null) {
    let text: string
    try {
      text = readFileSync(opts.file, 'utf8')
    } catch (err) {
      const e = err as NodeJS.ErrnoException
      throw new ConfigError([e.code === 'ENOENT' ? `no file at: ${opts.file}` : `could not read configuration file ${opts.file}: ${e.message}`])
    }
    layer(parseConfFile(text, opts.file).map(([k, v, line]) => [k, v, `${opts.file}:${line}`]), false)
  }
  for (const prefix of ['KONG_', 'SLUICE_']) {
    const entries: Array<[string, string, string]> = []
    for (const [name, v] of Object.entries(env)) {
      if (v === undefined || !name.startsWith(prefix)) continue
      const k = name.slice(prefix.length).toLowerCase()
      // Only keys Sluice knows or aliases: KONG_* also names things that are not settings (KONG_VERSION).
      if (isKey(k) || Object.hasOwn(ALIASES, k) || k === 'role') entries.push([k, v, name])
    }
    layer(entries, false)
  }
  layer(Object.entries(opts.overrides ?? {}).filter((e): e is [string, string] => e[1] !== undefined).map(([k, v]) => [k, v, 'command line']), true)
  if (errors.length > 0) throw new ConfigError(errors)
  const cfg = buildConfig(raw, sources)
  cfg.warnings = warnings
  return cfg
}

function typed (k: ConfigKey, errors: string[], source?: string): (v: string) => unknown {
  const spec: KeySpec = CONFIG_KEYS[k]
  return (v: string) => {
    const where = source !== undefined ? `${k} (from ${source})` : k
    switch (spec.type) {
      case 'boolean': {
        const s = v.trim().toLowerCase()
        if (s === 'on' || s === 'true') return true
        if (s === 'off' || s === 'false') return false
        errors.push(`${where}: expected one of on, off, true, false; got '${v}'`)
        return false
      }
      case 'integer':
      case 'number': {
        const s = v.trim()
        const n = Number(s)
        if (s === '' || !Number.isFinite(n) || (spec.type === 'integer' && !Number.isInteger(n))) {
          errors.push(`${where}: expected ${spec.type === 'integer' ? 'an integer' : 'a number'}; got '${v}'`)
          return 0
        }
        if (spec.min !== undefined && n < spec.min) errors.push(`${where}: must be >= ${spec.min}; got ${n}`)
        if (spec.max !== undefined && n > spec.max) errors.push(`${where}: must be <= ${spec.max}; got ${n}`)
        return n
      }
      case 'size': {
        const n = parseSize(v)
        if (n === null) { errors.push(`${where}: expected a size such as 0, 512, 8k, 10m or 1g; got '${v}'`); return 0 }
        return n
      }
      case 'list':
        return splitList(v)
      case 'string':
        if (k === 'database' && v.trim() === 'cassandra') {
          errors.push(`${where}: Cassandra is not supported (Kong dropped it in 3.4); use postgres or off`)
        } else if (spec.oneOf !== undefined && !spec.oneOf.includes(v.trim())) {
          errors.push(`${where}: expected one of ${spec.oneOf.join(', ')}; got '${v}'`)
        }
        return v.trim()
    }
  }
}

export function splitList (v: string): string[] {
  return v.split(',').map((s) => s.trim()).filter((s) => s !== '')
}

/** nginx sizes: `0`, `512`, `8k`, `10m`, `1g` (case-insensitive). */
export function parseSize (v: string): number | null {
  const m = /^\s*(\d+)\s*([kKmMgG]?)\s*$/.exec(v)
  if (m === null) return null
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g']
  return Number(m[1]) * mult
}

export function buildConfig (raw: RawConfig, sources: Partial<Record<ConfigKey, string>> = {}): Config {
  const errors: string[] = []
  // Every key is parsed and checked, also those the current mode does not use.
  const parsed = {} as Record<ConfigKey, unknown>
  for (const k of Object.keys(CONFIG_KEYS) as ConfigKey[]) parsed[k] = typed(k, errors, sources[k])(raw[k])
  const get = <T>(k: ConfigKey): T => parsed[k] as T
  const listen = (k: ConfigKey): Listener[] => {
    try {
      return parseListen(k, get<string[]>(k))
    } catch (err) {
      errors.push((err as Error).message)
      return []
    }
  }

  let workers: number
  const wp = raw.nginx_worker_processes.trim()
  if (wp === 'auto') workers = Math.max(1, availableParallelism())
  else if (/^\d+$/.test(wp) && Number(wp) >= 1 && Number(wp) <= 1024) workers = Number(wp)
  else { errors.push(`nginx_worker_processes: expected 'auto' or a number from 1 to 1024; got '${wp}'`); workers = 1 }

  const lchb = /^\s*(\d+)\s+(\S+)\s*$/.exec(raw.large_client_header_buffers)
  let largeHeaderBuffers = 4
  let largeHeaderBufferSize = 8192
  if (lchb === null || parseSize(lchb[2]!) === null || Number(lchb[1]) < 1) {
    errors.push(`large_client_header_buffers: expected 'N size' such as '4 8k'; got '${raw.large_client_header_buffers}'`)
  } else {
    largeHeaderBuffers = Number(lchb[1])
    largeHeaderBufferSize = parseSize(lchb[2]!)!
  }

  const wc = raw.nginx_events_worker_connections.trim()
  let workerConnections = 16384
  if (wc === 'auto') workerConnections = Math.min(16384, Math.max(1024, openFilesLimit() ?? 16384))
  else if (/^\d+$/.test(wc) && Number(wc) >= 1) workerConnections = Number(wc)
  else errors.push(`nginx_events_worker_connections: expected 'auto' or a positive integer; got '${wc}'`)

  const database = get<string>('database') as 'postgres' | 'off'
  const pgHost = get<string>('pg_host')
  const cfg: Config = {
    raw,
    sources,
    prefix: resolve(get<string>('prefix') || '.sluice'),
    logLevel: get<string>('log_level'),
    proxyListen: listen('proxy_listen'),
    adminListen: listen('admin_listen'),
    statusListen: listen('status_listen'),
    workers,
    database,
    declarativeConfig: get<string>('declarative_config') || null,
    pg: pgHost === ''
      ? null
      : {
          host: pgHost,
          port: get<number>('pg_port'),
          user: get<string>('pg_user'),
          password: raw.pg_password,
          database: get<string>('pg_database'),
          ssl: get<boolean>('pg_ssl'),
          sslVerify: get<boolean>('pg_ssl_verify'),
        },
    pgTimeout: get<number>('pg_timeout'),
    pgMaxConcurrentQueries: get<number>('pg_max_concurrent_queries'),
    pgEmbeddedPort: get<number>('pg_embedded_port'),
    pgSchema: get<string>('pg_schema') || null,
    dbUpdateFrequencyMs: Math.round(get<number>('db_update_frequency') * 1000),
    trustedIps: get<string[]>('trusted_ips'),
    realIpHeader: get<string>('real_ip_header'),
    realIpRecursive: get<boolean>('real_ip_recursive'),
    headers: headerSet(get<string[]>('headers')),
    headersUpstream: headerSet(get<string[]>('headers_upstream')),
    errorDefaultType: get<string>('error_default_type'),
    clientMaxBodySize: Math.max(get<number>('nginx_http_client_max_body_size'), get<number>('client_max_body_size')),
    adminMaxBodySize: get<number>('nginx_admin_client_max_body_size'),
    largeHeaderBufferSize,
    largeHeaderBuffers,
    clientHeaderTimeoutMs: get<number>('client_header_timeout'),
    clientBodyTimeoutMs: get<number>('client_body_timeout'),
    luaMaxReqHeaders: get<number>('lua_max_req_headers'),
    luaMaxUriArgs: get<number>('lua_max_uri_args'),
    luaMaxPostArgs: get<number>('lua_max_post_args'),
    workerConnections,
    upstreamKeepalivePoolSize: get<number>('upstream_keepalive_pool_size'),
    upstreamKeepaliveMaxRequests: get<number>('upstream_keepalive_max_requests'),
    upstreamKeepaliveIdleTimeoutMs: get<number>('upstream_keepalive_idle_timeout') * 1000,
    proxySslVerify: get<boolean>('proxy_ssl_verify'),
    proxySslVerifyDepth: get<number>('proxy_ssl_verify_depth'),
    proxySslTrusted: null,
    upstreamTransport: get<string>('upstream_transport') as 'undici' | 'net',
    allowDebugHeader: get<boolean>('allow_debug_header'),
    plugins: get<string[]>('plugins'),
    drainTimeoutMs: get<number>('drain_timeout'),
    nodeId: get<string>('node_id') || null,
    daemon: get<boolean>('nginx_daemon'),
  }
  if (cfg.nodeId !== null && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(cfg.nodeId)) {
    errors.push(`node_id: expected a UUID; got '${cfg.nodeId}'`)
  }
  if (database === 'off' && cfg.declarativeConfig === null) {
    // Kong starts DB-less with an empty config; so does Sluice.
  }
  for (const [k, allowed] of [['headers', HEADER_TOKENS], ['headers_upstream', UPSTREAM_HEADER_TOKENS]] as const) {
    for (const h of get<string[]>(k)) {
      if (h.toLowerCase() !== 'off' && !allowed.has(h.toLowerCase())) errors.push(`${k}: invalid entry '${h}' (one of ${[...allowed].join(', ')}, off)`)
    }
  }
  // Kong's checks of the DNS keys (kong/conf_loader/parse.lua), so that a typo is not filtered out silently.
  for (const t of get<string[]>('dns_order')) {
    if (!['LAST', 'SRV', 'A', 'AAAA', 'CNAME'].includes(t.toUpperCase())) errors.push(`dns_order: invalid entry '${t}' (LAST, SRV, A, AAAA, CNAME)`)
  }
  for (const r of get<string[]>('dns_resolver')) {
    if (!isIpPort(r)) errors.push(`dns_resolver must be a comma separated list in the form of IPv4/6 or IPv4/6:port, got '${r}'`)
  }
  const validTtl = raw.dns_valid_ttl.trim()
  if (validTtl !== '' && !(Number.isFinite(Number(validTtl)) && Number(validTtl) >= 0)) errors.push(`dns_valid_ttl: expected a number of seconds or empty; got '${validTtl}'`)
  const trusted = get<string>('proxy_ssl_trusted_certificate').trim()
  if (trusted === 'system') cfg.proxySslTrusted = 'system'
  else if (trusted !== '') {
    // nginx reads a relative path from its prefix.
    const file = resolve(cfg.prefix, trusted)
    let pem = ''
    try { pem = readFileSync(file, 'utf8') } catch (err) { errors.push(`proxy_ssl_trusted_certificate: cannot read ${file}: ${(err as Error).message}`) }
    if (pem !== '' && !pem.includes('-----BEGIN CERTIFICATE-----')) errors.push(`proxy_ssl_trusted_certificate: ${file} holds no PEM certificate`)
    else if (pem !== '') cfg.proxySslTrusted = pem
  }
  const hosts = get<string>('dns_hostsfile')
  if (hosts !== '' && !isFile(hosts)) errors.push(`dns_hostsfile: file does not exist: ${hosts}`)
  for (const l of [...cfg.trustedIps]) {
    if (l !== 'unix:' && !/^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(l)) errors.push(`trusted_ips: '${l}' is not an IP address or CIDR`)
  }
  if (errors.length > 0) throw new ConfigError(errors)
  return cfg
}

/** `1.2.3.4`, `1.2.3.4:53`, `::1`, `[::1]:53`: a nameserver address (no names, as Kong). */
function isIpPort (v: string): boolean {
  const b = /^\[([0-9a-fA-F:.]+)\](?::(\d{1,5}))?$/.exec(v)
  if (b !== null) return isIP(b[1]!) === 6 && (b[2] === undefined || Number(b[2]) <= 65535)
  if (isIP(v) !== 0) return true
  const m = /^([\d.]+):(\d{1,5})$/.exec(v)
  return m !== null && isIP(m[1]!) === 4 && Number(m[2]) <= 65535
}

function isFile (path: string): boolean {
  try { return statSync(path).isFile() } catch { return false }
}

/** The soft `ulimit -n` of this process (Linux /proc), or null where it cannot be read. */
function openFilesLimit (): number | null {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'))
    if (m === null) return null
    return m[1] === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(m[1])
  } catch {
    return null
  }
}

/** Kong's `headers` tokens (kong/conf_loader/constants.lua), lower-cased. */
const HEADER_TOKENS: ReadonlySet<string> = new Set(['server_tokens', 'latency_tokens', 'via', 'server', 'x-kong-proxy-latency', 'x-kong-response-latency', 'x-kong-admin-latency', 'x-kong-upstream-latency', 'x-kong-upstream-status', 'x-kong-request-id'])
const UPSTREAM_HEADER_TOKENS: ReadonlySet<string> = new Set(['x-kong-request-id'])

function headerSet (list: string[]): Set<string> {
  const s = new Set<string>()
  for (const h of list) { if (h.toLowerCase() !== 'off') s.add(h.toLowerCase()) }
  return s
}

/** The plain-object form that crosses to workers (structured clone keeps Sets). */
export function configForWorkers (c: Config): Config { return c }
