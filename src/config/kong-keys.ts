/**
 * What a kong.conf written for Kong 3.10 may hold besides Sluice's own keys (defaults.ts):
 *
 * - ALIASES: Kong spellings Sluice understands under another name, mostly nginx directives Kong
 *   injects (`nginx_http_client_body_timeout = 60s`) whose effect Sluice has as a typed key. The
 *   value is converted (nginx times to ms) and applied when the Sluice key is not set at the same
 *   or a higher layer.
 * - KONG_ONLY_KEYS: Kong 3.10 settings (kong/templates/kong_defaults.lua) Sluice does not
 *   implement. They are accepted and ignored, as Kong ignores keys it does not know; `sluice check`
 *   lists them so that nothing is ignored silently.
 */
import type { ConfigKey } from './defaults.ts'

/** nginx time (`60`, `60s`, `500ms`, `1m30s`, `1h`) in ms, or null. A bare number is seconds. */
export function nginxTimeMs (v: string): number | null {
  const s = v.trim()
  if (/^\d+$/.test(s)) return Number(s) * 1000
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, M: 2_592_000_000, y: 31_536_000_000 }
  const re = /(\d+)(ms|s|m|h|d|w|M|y)/gy
  let total = 0
  let at = 0
  for (let m = re.exec(s); m !== null; m = re.exec(s)) { total += Number(m[1]) * unit[m[2]!]!; at = re.lastIndex }
  return at === s.length && at > 0 ? total : null
}

export interface Alias { to: ConfigKey; convert?: (v: string) => string | null; expected?: string }

const timeMs = (v: string): string | null => { const n = nginxTimeMs(v); return n === null ? null : String(n) }

export const ALIASES: Readonly<Record<string, Alias>> = {
  nginx_main_worker_processes: { to: 'nginx_worker_processes' },
  nginx_main_daemon: { to: 'nginx_daemon' },
  nginx_proxy_real_ip_header: { to: 'real_ip_header' },
  nginx_proxy_real_ip_recursive: { to: 'real_ip_recursive' },
  nginx_http_large_client_header_buffers: { to: 'large_client_header_buffers' },
  nginx_http_client_header_timeout: { to: 'client_header_timeout', convert: timeMs, expected: 'an nginx time such as 60s, 500ms or 1m' },
  nginx_http_client_body_timeout: { to: 'client_body_timeout', convert: timeMs, expected: 'an nginx time such as 60s, 500ms or 1m' },
  nginx_http_proxy_ssl_verify: { to: 'proxy_ssl_verify' },
  nginx_proxy_proxy_ssl_verify: { to: 'proxy_ssl_verify' },
  nginx_http_proxy_ssl_trusted_certificate: { to: 'proxy_ssl_trusted_certificate' },
  nginx_proxy_proxy_ssl_trusted_certificate: { to: 'proxy_ssl_trusted_certificate' },
  nginx_http_proxy_ssl_verify_depth: { to: 'proxy_ssl_verify_depth' },
  nginx_proxy_proxy_ssl_verify_depth: { to: 'proxy_ssl_verify_depth' },
}

/** Kong 3.10 keys with no Sluice equivalent (accepted, ignored; `sluice check` names them). */
export const KONG_ONLY_KEYS: ReadonlySet<string> = new Set([
  'proxy_stream_access_log', 'proxy_stream_error_log', 'admin_gui_access_log', 'admin_gui_error_log',
  'vaults', 'port_maps', 'host_ports', 'anonymous_reports', 'proxy_server', 'proxy_server_ssl_verify',
  'error_template_html', 'error_template_json', 'error_template_xml', 'error_template_plain',
  'stream_listen', 'admin_gui_listen', 'cluster_listen', 'cluster_control_plane', 'cluster_cert',
  'cluster_cert_key', 'cluster_mtls', 'cluster_ca_cert', 'cluster_server_name',
  'cluster_data_plane_purge_delay', 'cluster_ocsp', 'cluster_max_payload', 'cluster_use_proxy',
  'cluster_dp_labels', 'cluster_rpc', 'cluster_rpc_sync', 'cluster_cjson', 'lmdb_environment_path',
  'lmdb_map_size', 'mem_cache_size', 'worker_events_max_payload', 'ssl_cert', 'ssl_cert_key',
  'client_ssl', 'client_ssl_cert', 'client_ssl_cert_key', 'ssl_cipher_suite', 'ssl_ciphers',
  'ssl_protocols', 'ssl_prefer_server_ciphers', 'ssl_dhparam', 'ssl_session_tickets',
  'ssl_session_timeout', 'ssl_session_cache_size', 'admin_ssl_cert', 'admin_ssl_cert_key',
  'admin_gui_ssl_cert', 'admin_gui_ssl_cert_key', 'status_ssl_cert', 'status_ssl_cert_key',
  'nginx_user', 'nginx_main_user', 'nginx_main_worker_rlimit_nofile', 'nginx_events_multi_accept',
  'nginx_http_charset', 'nginx_http_client_body_buffer_size', 'nginx_http_ssl_protocols',
  'nginx_http_ssl_prefer_server_ciphers', 'nginx_http_ssl_dhparam', 'nginx_http_ssl_session_tickets',
  'nginx_http_ssl_session_timeout', 'nginx_http_ssl_conf_command', 'nginx_http_proxy_ssl_conf_command',
  'nginx_http_lua_ssl_conf_command', 'nginx_http_grpc_ssl_conf_command',
  'nginx_http_lua_regex_match_limit', 'nginx_http_lua_regex_cache_max_entries',
  'nginx_http_keepalive_requests', 'nginx_stream_ssl_conf_command', 'nginx_stream_proxy_ssl_conf_command',
  'nginx_stream_lua_ssl_conf_command', 'nginx_stream_ssl_protocols', 'nginx_stream_ssl_prefer_server_ciphers',
  'nginx_stream_ssl_dhparam', 'nginx_stream_ssl_session_tickets', 'nginx_stream_ssl_session_timeout',
  'nginx_admin_client_body_buffer_size', 'client_body_buffer_size', 'pg_semaphore_timeout',
  'pg_keepalive_timeout', 'pg_pool_size', 'pg_backlog', 'pg_ro_host', 'pg_ro_port', 'pg_ro_database',
  'pg_ro_schema', 'pg_ro_timeout', 'pg_ro_user', 'pg_ro_password', 'pg_ro_ssl', 'pg_ro_ssl_verify',
  'pg_ro_max_concurrent_queries', 'pg_ro_semaphore_timeout', 'pg_ro_keepalive_timeout', 'pg_ro_pool_size',
  'pg_ro_backlog', 'declarative_config_string', 'db_update_propagation', 'db_cache_ttl',
  'db_cache_neg_ttl', 'db_resurrect_ttl', 'dns_cache_size', 'dns_no_sync',
  'resolver_address', 'resolver_hosts_file', 'resolver_family', 'resolver_valid_ttl',
  'resolver_stale_ttl', 'resolver_lru_cache_size', 'resolver_mem_cache_size', 'resolver_error_ttl',
  'dedicated_config_processing', 'worker_consistency', 'worker_state_update_frequency',
  'lua_socket_pool_size', 'lua_ssl_trusted_certificate', 'lua_ssl_verify_depth', 'lua_ssl_protocols',
  'lua_package_path', 'lua_package_cpath', 'lua_max_resp_headers', 'role', 'kic', 'pluginserver_names',
  'untrusted_lua', 'untrusted_lua_sandbox_requires', 'untrusted_lua_sandbox_environment',
  'admin_gui_path', 'admin_gui_api_url', 'admin_gui_csp_header', 'openresty_path',
  'opentelemetry_tracing', 'opentelemetry_tracing_sampling_rate', 'tracing_instrumentations',
  'tracing_sampling_rate', 'wasm', 'wasm_filters_path', 'wasm_dynamic_module', 'wasm_filters',
  'request_debug', 'request_debug_token',
])

/** nginx directive injection namespaces Kong passes through to nginx.conf (`nginx_http_gzip = on`). */
export const KONG_DIRECTIVE_PREFIXES = ['nginx_main_', 'nginx_events_', 'nginx_http_', 'nginx_proxy_', 'nginx_admin_', 'nginx_status_', 'nginx_upstream_', 'nginx_stream_', 'nginx_sproxy_', 'nginx_supstream_', 'nginx_location_', 'nginx_kong_']
