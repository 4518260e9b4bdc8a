/**
 * The `sluice` command line. `start` runs the primary, which spawns the proxy workers.
 */
import { parseArgs, flag, type Parsed } from './cli/args.ts'
import { SLUICE_VERSION, KONG_VERSION } from './common/meta.ts'
import { ConfigError } from './config/load.ts'

const HELP = `Usage: sluice COMMAND [OPTIONS]

A Kong-compatible API gateway (speaks Kong ${KONG_VERSION}'s Admin API, kong.conf keys and KONG_* env).

Commands:
  start [--foreground]       start the gateway (daemonises unless --foreground, the systemd mode)
  stop [-t SECONDS]          drain in-flight requests (drain_timeout), then stop (SIGTERM)
  quit [-t 10] [-w 0]        graceful stop: /status/ready -> 503, wait -w s, SIGQUIT; SIGTERM after -t s
  reload [--no-wait]         re-read the configuration: new workers take over, the old ones drain (SIGHUP);
                             exits 1 if the node refused it (it keeps running)
  drain                      /status/ready answers 503 from now on (load balancers stop sending)
  reopen                     reopen the error and access logs (SIGUSR1; logrotate)
  health [--wait S] [--ready]
                             report the primary, readiness, each worker and the database; non-zero when one
                             is down (--wait: poll until healthy; --ready: serving is enough, as for systemd)
  check [CONF]               validate a configuration file without starting
  migrations bootstrap|up|list|reset [-y]
                             manage the database schema (list exits 0 up to date, 3 needs bootstrap, 5 pending)
  config init|parse|db_import|db_export|keys
                             declarative config (Kong's kong.yml format); keys lists every setting
  version                    print Sluice's and Kong API versions

Options:
  -c, --conf FILE            configuration file (kong.conf format); default: $SLUICE_CONF or /etc/sluice/sluice.conf if present
  -p, --prefix DIR           working directory (pid file, logs, embedded PostgreSQL); default: ./.sluice
  -h, --help                 this help

Configuration is layered: defaults < file < KONG_<KEY> < SLUICE_<KEY> env < -p.
Without pg_host, Sluice runs an embedded PostgreSQL under <prefix>/pgdata.
`

async function run (argv: string[]): Promise<number> {
  let p: Parsed
  try { p = parseArgs(argv) } catch (err) { process.stderr.write(`Error: ${(err as Error).message}\n${HELP}`); return 2 }
  const cmd = p.positionals[0]
  if (cmd === undefined || cmd === 'help' || flag(p, 'h', 'help') !== undefined) {
    process.stdout.write(HELP)
    return cmd === undefined && flag(p, 'h', 'help') === undefined ? 2 : 0
  }
  switch (cmd) {
    case 'start': return (await import('./cli/start.ts')).start(p)
    case 'stop': return (await import('./cli/stop.ts')).stop(p)
    case 'quit': return (await import('./cli/stop.ts')).quit(p)
    case 'drain': return (await import('./cli/stop.ts')).drain(p)
    case 'reopen': return (await import('./cli/stop.ts')).reopen(p)
    case 'reload': return (await import('./cli/reload.ts')).reload(p)
    case 'health': return (await import('./cli/health.ts')).health(p)
    case 'migrations': return (await import('./cli/migrations.ts')).migrations(p)
    case 'check': return (await import('./cli/check.ts')).check(p)
    // declarative config (src/cli/config.ts): init, parse, db_import, db_export; `keys` lists the settings
    case 'config': return (await import('./cli/config.ts')).configCommand(p)
    case 'version': {
      process.stdout.write(`sluice ${SLUICE_VERSION} (Kong ${KONG_VERSION} Admin API) on Node ${process.versions.node}\n`)
      const { uwsInfo, formatUwsInfo } = await import('./worker/uws-load.ts')
      try { process.stdout.write(`${formatUwsInfo(uwsInfo())}\n`) } catch (err) { process.stdout.write(`uWebSockets.js: ${(err as Error).message}\n`) }
      return 0
    }
    default:
      process.stderr.write(`Error: unknown command '${cmd}'\n\n${HELP}`)
      return 2
  }
}

export async function main (argv: string[]): Promise<void> {
  try {
    process.exitCode = await run(argv)
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`Error: invalid configuration:\n${err.errors.map((e) => `  ${e}`).join('\n')}\n`)
    } else {
      process.stderr.write(`Error: ${(err as Error).message}\n`)
    }
    process.exitCode = 1
  }
}
