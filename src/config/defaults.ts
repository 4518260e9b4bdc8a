/**
 * The one table of configuration keys: Kong's names and defaults where Kong has the key
 * (kong/templates/kong_defaults.lua), Sluice's own otherwise. Every key is typed here; load.ts
 * parses file, SLUICE_* and KONG_* values through this table and nothing else.
 */

export type KeyType = 'string' | 'boolean' | 'number' | 'integer' | 'list' | 'size'

export interface KeySpec {
  type: KeyType
  default: string
  /** Allowed values for enum-like keys. */
  oneOf?: readonly string[]
  min?: number
  max?: number
  /** Not echoed back (GET /, logs). */
  secret?: boolean
  doc: string
}

export const CONFIG_KEYS = {
  prefix: { type: 'string', default: '.sluice', doc: 'Working directory: pid file, logs, embedded PostgreSQL data, last good snapshot.' },
  log_level: { type: 'string', default: 'notice', oneOf: ['debug', 'info', 'notice', 'warn', 'error', 'crit', 'alert', 'emerg'], doc: 'Error log verbosity.' },
  proxy_access_log: { type: 'string', default: 'logs/access.log', doc: 'Proxy access log: a path (relative paths are under `prefix`), `/dev/stdout`, `/dev/stderr` or `off`, optionally followed by its format, `combined` (nginx\'s, the default) or `json` (e.g. `logs/access.log json`). Written by each worker in batches, never on the request path; reopened on SIGUSR1 (`sluice reopen`). With `--foreground` and no value set: stdout.' },
  proxy_error_log: { type: 'string', default: 'logs/error.log', doc: 'Error log of the whole node (primary and workers), filtered by `log_level`: a path (relative paths are under `prefix`) or `/dev/stderr`; reopened on SIGUSR1. With `--foreground` and no value set: stderr.' },
  admin_access_log: { type: 'string', default: 'logs/admin_access.log', doc: 'Admin API access log (Kong key). Accepted; the Admin API does not write an access log yet.' },
  admin_error_log: { type: 'string', default: 'logs/error.log', doc: 'Kong key, accepted for compatibility: Sluice writes one error log, `proxy_error_log`.' },
  status_access_log: { type: 'string', default: 'off', doc: 'Status API access log (combined format): a path, `/dev/stdout` or `off`.' },
  status_error_log: { type: 'string', default: 'logs/status_error.log', doc: 'Kong key, accepted for compatibility: Status API errors go to `proxy_error_log`.' },
  proxy_listen: { type: 'list', default: '0.0.0.0:8000 reuseport backlog=16384, 0.0.0.0:8443 http2 ssl reuseport backlog=16384', doc: 'Proxy listeners (address:port [ssl] [http2] [reuseport] [backlog=N]), comma-separated; `off` disables.' },
  admin_listen: { type: 'list', default: '127.0.0.1:8001 reuseport backlog=16384, 127.0.0.1:8444 http2 ssl reuseport backlog=16384', doc: 'Admin API listeners; `off` disables.' },
  admin_gui_url: { type: 'list', default: '', doc: 'Kong Manager URLs (comma-separated). The Admin API answers `Access-Control-Allow-Origin` with the request\'s Origin when it is the origin (scheme://host[:port]) of one of them, else with the first one\'s; empty: the request\'s Origin, or `*`.' },
  status_listen: { type: 'list', default: '127.0.0.1:8007 reuseport backlog=16384', doc: 'Status API listener (/status, /status/ready, /status/dns, /metrics; in DB-less mode also the read-only GET /upstreams/{u}/targets, /targets/all, /targets/{t} and /health); `off` disables.' },
  nginx_daemon: { type: 'boolean', default: 'on', doc: '`off`: `sluice start` stays in the foreground as `--foreground` does (Kong\'s `KONG_NGINX_DAEMON=off`, as container images set it). Also read as `nginx_main_daemon`.' },
  nginx_worker_processes: { type: 'string', default: 'auto', doc: 'Proxy worker threads: `auto` (one per core) or a number from 1 to 1024. Also read as `nginx_main_worker_processes`.' },
  database: { type: 'string', default: 'postgres', oneOf: ['postgres', 'off'], doc: '`postgres` or `off` (DB-less, with declarative_config).' },
  declarative_config: { type: 'string', default: '', doc: 'Declarative config file served when database = off.' },
  pg_host: { type: 'string', default: '', doc: 'PostgreSQL host. Unset: Sluice runs an embedded PostgreSQL under <prefix>/pgdata (Kong default: 127.0.0.1).' },
  pg_port: { type: 'integer', default: '5432', min: 1, max: 65535, doc: 'PostgreSQL port.' },
  pg_user: { type: 'string', default: 'kong', doc: 'PostgreSQL user.' },
  pg_password: { type: 'string', default: '', secret: true, doc: 'PostgreSQL password.' },
  pg_database: { type: 'string', default: 'kong', doc: 'PostgreSQL database.' },
  pg_schema: { type: 'string', default: '', doc: 'PostgreSQL schema (search_path); empty: the server default.' },
  pg_ssl: { type: 'boolean', default: 'off', doc: 'Use TLS to PostgreSQL.' },
  pg_ssl_verify: { type: 'boolean', default: 'off', doc: 'Verify the PostgreSQL server certificate.' },
  pg_timeout: { type: 'integer', default: '5000', min: 1, doc: 'PostgreSQL connect/query timeout (ms).' },
  pg_max_concurrent_queries: { type: 'integer', default: '0', min: 0, doc: 'Pool size bound on the primary (0: Sluice default of 16).' },
  pg_embedded_port: { type: 'integer', default: '54329', min: 1, max: 65535, doc: 'Port of the embedded PostgreSQL (loopback only).' },
  db_update_frequency: { type: 'number', default: '5', min: 0.01, doc: 'Seconds between cluster_events catch-up polls (LISTEN/NOTIFY delivers changes at once; the poll catches what a dropped connection missed).' },
  db_cache_warmup_entities: { type: 'list', default: 'services', doc: 'Accepted for compatibility; Sluice always holds the whole config in memory.' },
  trusted_ips: { type: 'list', default: '', doc: 'Addresses/CIDRs whose X-Forwarded-* and real_ip_header are trusted (`0.0.0.0/0,::/0` trusts all).' },
  real_ip_header: { type: 'string', default: 'X-Real-IP', doc: 'Header carrying the client address from trusted proxies (or `proxy_protocol`). Also read as `nginx_proxy_real_ip_header`.' },
  real_ip_recursive: { type: 'boolean', default: 'off', doc: 'Skip trusted addresses from the right of real_ip_header. Also read as `nginx_proxy_real_ip_recursive`.' },
  headers: { type: 'list', default: 'server_tokens, latency_tokens, X-Kong-Request-Id', doc: 'Headers Sluice adds to responses (`off` for none).' },
  headers_upstream: { type: 'list', default: 'X-Kong-Request-Id', doc: 'Headers Sluice adds to upstream requests (`off` for none).' },
  error_default_type: { type: 'string', default: 'text/plain', oneOf: ['application/json', 'text/html', 'text/plain', 'application/xml'], doc: 'Body type of gateway errors when the client states no preference.' },
  nginx_http_client_max_body_size: { type: 'size', default: '0', doc: 'Largest request body (0: unlimited). Over it: 413.' },
  client_max_body_size: { type: 'size', default: '0', doc: 'Alias of nginx_http_client_max_body_size.' },
  nginx_admin_client_max_body_size: { type: 'size', default: '10m', doc: 'Largest Admin API request body.' },
  large_client_header_buffers: { type: 'string', default: '4 8k', doc: 'nginx-style `N size`: a request line or header field over `size` is refused (414 / 400). Also read as `nginx_http_large_client_header_buffers`.' },
  client_header_timeout: { type: 'integer', default: '60000', min: 1, doc: 'ms a client may take to send its header section. Not enforced by Sluice: uWebSockets.js closes a connection whose request head is incomplete after its own fixed idle timeout (8-12 s, no response, as nginx does on this timeout); see Known limits at the edge. Also read as `nginx_http_client_header_timeout`, an nginx time (`60s`, `500ms`, `1m`; a bare number is seconds).' },
  client_body_timeout: { type: 'integer', default: '60000', min: 1, doc: 'ms between two reads of a client body; past it: 408 and close, the upstream request is aborted. uWebSockets.js also drops a body slower than 16 KiB/s over 10 s; Sluice answers 408 before it does (Known limits at the edge). Also read as `nginx_http_client_body_timeout`, an nginx time (`60s`, `500ms`, `1m`; a bare number is seconds).' },
  lua_max_req_headers: { type: 'integer', default: '100', min: 1, max: 1000, doc: 'Request header fields the router and plugins see (Kong: the rest is not an error and is still proxied).' },
  lua_max_uri_args: { type: 'integer', default: '100', min: 1, max: 1000, doc: 'Query arguments plugins see (`kong.request.get_query`): the first N. The query string still goes upstream whole unless a plugin rewrites it (request-transformer then sends the N it saw, as Kong).' },
  lua_max_post_args: { type: 'integer', default: '100', min: 1, max: 1000, doc: 'Arguments plugins see in an `application/x-www-form-urlencoded` body (`kong.request.get_body`): the first N. The body still goes upstream whole unless a plugin re-encodes it.' },
  nginx_events_worker_connections: { type: 'string', default: 'auto', doc: 'Requests in progress per worker (`auto`: `ulimit -n` within 1024..16384, as Kong). Past it: 503 and close. Idle keep-alive connections and unfinished request heads are not counted (uWebSockets.js 20.30 does not report them).' },
  upstream_keepalive_pool_size: { type: 'integer', default: '512', min: 0, doc: 'Idle upstream connections kept per target per worker.' },
  upstream_keepalive_max_requests: { type: 'integer', default: '10000', min: 0, doc: 'Requests per upstream connection before it is closed.' },
  upstream_keepalive_idle_timeout: { type: 'integer', default: '60', min: 0, doc: 'Seconds an idle upstream connection is kept.' },
  upstream_transport: { type: 'string', default: 'net', oneOf: ['undici', 'net'], doc: 'Upstream HTTP/1.1 client: `net` (default: Sluice\'s lean node:net transport) or `undici`. https upstreams always use undici.' },
  proxy_ssl_verify: { type: 'boolean', default: 'off', doc: 'Verify the certificate of https upstreams whose service has `tls_verify` null (nginx `proxy_ssl_verify`; Kong sets it with `nginx_http_proxy_ssl_verify` or `nginx_proxy_proxy_ssl_verify`, also read here). A service\'s own `tls_verify` wins.' },
  proxy_ssl_trusted_certificate: { type: 'string', default: '', doc: 'PEM file of the CA certificates trusted when verifying an https upstream whose service has no `ca_certificates` (nginx `proxy_ssl_trusted_certificate`; also read as `nginx_http_proxy_ssl_trusted_certificate` / `nginx_proxy_proxy_ssl_trusted_certificate`); relative paths are under `prefix`; `system`: the CA bundle of Node.js. Empty: none, so that verification without `ca_certificates` always fails, as in Kong.' },
  proxy_ssl_verify_depth: { type: 'integer', default: '1', min: 0, max: 100, doc: 'Intermediate certificates allowed between an https upstream\'s certificate and a trusted one, for services whose `tls_verify_depth` is null (nginx `proxy_ssl_verify_depth`; also read as `nginx_http_proxy_ssl_verify_depth` / `nginx_proxy_proxy_ssl_verify_depth`).' },
  dns_resolver: { type: 'list', default: '', doc: 'Nameservers (`ip[:port]`, port 53 by default), comma-separated, for balancer targets and service hosts; empty: those of /etc/resolv.conf.' },
  dns_hostsfile: { type: 'string', default: '/etc/hosts', doc: 'Hosts file, read once at start; its names answer before any DNS query (`localhost` always resolves).' },
  dns_order: { type: 'list', default: 'LAST,SRV,A,CNAME', doc: 'Record types tried in order (`LAST`: the type that last answered for the name; also `AAAA`).' },
  dns_valid_ttl: { type: 'string', default: '', doc: 'Seconds overriding the TTL of every DNS answer; empty: the records\' own TTL.' },
  dns_stale_ttl: { type: 'number', default: '3600', min: 0, doc: 'Seconds an expired DNS answer is still used while it is refreshed in the background (and while the refresh fails).' },
  dns_not_found_ttl: { type: 'number', default: '30', min: 0, doc: 'Seconds a name-error or empty DNS answer is cached.' },
  dns_error_ttl: { type: 'number', default: '1', min: 0, doc: 'Seconds any other DNS failure is cached.' },
  new_dns_client: { type: 'boolean', default: 'off', doc: '`on`: `GET /status/dns` (Status API and Admin API) answers the node\'s DNS statistics in the shape of Kong\'s new DNS client: one entry per `<name>|<type>` key (`127.0.0.1|A/AAAA`, `_ldap._tcp.example.test|SRV`, `example.test|A`) with counters such as `runs`, `hit_lru`, `miss`, `query`, `query_succ`, `query_fail:<reason>` and `query_last_time`, summed over the primary (health checks) and every worker (balancers, log plugins). `off` (Kong\'s default): 501. Resolution itself follows the `dns_*` keys either way (Kong\'s `resolver_*` keys are not read). Takes effect on restart.' },
  router_flavor: { type: 'string', default: 'traditional_compatible', oneOf: ['traditional', 'traditional_compatible', 'expressions'], doc: 'Router semantics; Sluice implements traditional_compatible (traditional is served the same way).' },
  allow_debug_header: { type: 'boolean', default: 'off', doc: 'A request with a `Kong-Debug` header (any value) gets `Kong-Route-Id`/`-Name` and `Kong-Service-Id`/`-Name` (names when set) on its response once a route matched; none on a 404, only the route ones on a 503 for a route without a service.' },
  plugins: { type: 'list', default: 'bundled', doc: 'Plugins that may be configured.' },
  vault_env_prefix: { type: 'string', default: '', doc: 'Prefix of the environment variable a `{vault://env/...}` reference reads (Kong key): with `SECRETS_`, `{vault://env/db-password}` reads `SECRETS_DB_PASSWORD` (`-` read as `_`, upper-cased). A reference\'s `?prefix=` overrides it; a `vaults` entity\'s own `config.prefix` applies to references by that entity\'s prefix instead. Empty: no prefix. Set in kong.conf or as `KONG_VAULT_ENV_PREFIX` / `SLUICE_VAULT_ENV_PREFIX`; takes effect on restart.' },
  drain_timeout: { type: 'integer', default: '10000', min: 0, doc: 'ms to let in-flight requests finish on stop/reload.' },
  node_id: { type: 'string', default: '', doc: 'Node UUID; generated into <prefix>/node.id when empty.' },
} as const satisfies Record<string, KeySpec>

export type ConfigKey = keyof typeof CONFIG_KEYS
