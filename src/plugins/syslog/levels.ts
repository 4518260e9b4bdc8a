/**
 * Syslog numbers (RFC 5424 / <syslog.h>) and Kong's choice of severity by response status, shared
 * by syslog and loggly (kong/plugins/syslog/handler.lua, loggly/handler.lua).
 */
export const SEVERITY_CODE: Readonly<Record<string, number>> = {
  emerg: 0, alert: 1, crit: 2, err: 3, warning: 4, notice: 5, info: 6, debug: 7,
}

export const FACILITY_CODE: Readonly<Record<string, number>> = {
  kern: 0, user: 1, mail: 2, daemon: 3, auth: 4, syslog: 5, lpr: 6, news: 7, uucp: 8, cron: 9, authpriv: 10, ftp: 11,
  local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21, local6: 22, local7: 23,
}

export interface SeverityConfig {
  log_level?: string | null
  successful_severity?: string | null
  client_errors_severity?: string | null
  server_errors_severity?: string | null
}

export interface Severities {
  /** The severity code to log a response of `status` with, or -1 when it is above log_level. */
  forStatus (status: number): number
}

/**
 * 5xx -> server_errors_severity, 4xx -> client_errors_severity, else successful_severity; sent
 * only when that severity is at or below log_level (lower numbers are more severe). A null
 * severity or log_level (loggly lets them be null) sends nothing, where Kong's timer fails.
 */
export function buildSeverities (c: SeverityConfig): Severities {
  const level = SEVERITY_CODE[c.log_level ?? ''] ?? -1
  const pick = (s: string | null | undefined): number => {
    const code = SEVERITY_CODE[s ?? ''] ?? -1
    return level >= 0 && code >= 0 && code <= level ? code : -1
  }
  const ok = pick(c.successful_severity)
  const client = pick(c.client_errors_severity)
  const server = pick(c.server_errors_severity)
  return { forStatus: (status) => status >= 500 ? server : status >= 400 ? client : ok }
}
