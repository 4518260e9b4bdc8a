/**
 * The `sluice` command line, shaped like Kong's `kong` (bin/kong, kong/cmd/*.lua): the same
 * commands, options and spellings (a Kong user's scripts and habits carry over), each command with
 * its own `--help`, universal `--v` / `--vv`, and Kong's error shape:
 *
 *   Error: <message>
 *
 *     Run with --v (verbose) or --vv (debug) for more details
 *
 * Exit codes: 0 success; 1 any error, including a usage error (unknown command or option, missing
 * value), as Kong's; `migrations list` 3 (needs bootstrap) and 5 (new migrations), as Kong's.
 * `--help` prints to stdout and exits 0.
 */
import { parseArgs, usage, flag, UsageError, type OptionSpec, type Parsed } from './args.ts'
import { getVerbosity, setVerbosity } from './common.ts'
import { SLUICE_VERSION, KONG_VERSION } from '../common/meta.ts'
import { ConfigError } from '../config/load.ts'

const CONF: OptionSpec = { names: ['c', 'conf'], value: 'FILE', help: 'configuration file (kong.conf format)' }
const PREFIX: OptionSpec = { names: ['p', 'prefix'], value: 'DIR', help: 'prefix directory (overrides `prefix`)' }
const NGINX_CONF: OptionSpec = { names: ['nginx-conf'], value: 'FILE', help: "Kong's custom nginx template: accepted, ignored with a warning\n(Sluice has no nginx.conf)" }
const NGINX_CONF_FLAGS: OptionSpec = { names: ['nginx-conf-flags'], value: 'FLAGS', help: 'accepted, ignored with a warning' }
const DB_TIMEOUT: OptionSpec = { names: ['db-timeout'], value: 'SECONDS', help: 'timeout of every database operation (pg_timeout for this run)' }
const LOCK_TIMEOUT: OptionSpec = { names: ['lock-timeout'], value: 'SECONDS', help: 'accepted for Kong compatibility: migrations wait on an advisory\nlock while another node runs them' }
const START_OPTIONS: readonly OptionSpec[] = [
  CONF, PREFIX,
  { names: ['f', 'foreground'], help: 'stay in the foreground (systemd, containers); also nginx_daemon = off' },
  { names: ['run-migrations'], help: 'accepted: Sluice always bootstraps and runs new migrations at start' },
  DB_TIMEOUT, LOCK_TIMEOUT, NGINX_CONF, NGINX_CONF_FLAGS,
]

interface Command {
  summary: string
  head: string
  options: readonly OptionSpec[]
  run: (p: Parsed) => Promise<number> | number
}

const COMMANDS: Record<string, Command> = {
  start: {
    summary: 'start the gateway in the prefix directory',
    head: `Usage: sluice start [OPTIONS]

Start Sluice (the primary process and its proxy workers) in the configured prefix directory.
It daemonises and returns once every worker serves (exit 0), or prints why it could not start
(exit 1). With --foreground (or nginx_daemon = off) the process is the node itself.
An empty database is bootstrapped and new migrations run first (as Kong's --run-migrations).`,
    options: START_OPTIONS,
    run: async (p) => (await import('./start.ts')).start(p),
  },
  stop: {
    summary: 'stop a running node (SIGTERM: in-flight requests drain up to drain_timeout)',
    head: `Usage: sluice stop [OPTIONS]

Stop the Sluice node running in the prefix directory: SIGTERM, in-flight requests finish (up to
drain_timeout), then SIGKILL if it is still there after the timeout.`,
    options: [PREFIX, CONF, { names: ['t', 'timeout'], value: 'SECONDS', help: 'wait this long before SIGKILL (default: drain_timeout + 15 s)' }],
    run: async (p) => (await import('./stop.ts')).stop(p),
  },
  quit: {
    summary: 'gracefully quit a running node (SIGQUIT; SIGTERM after the timeout)',
    head: `Usage: sluice quit [OPTIONS]

Gracefully quit the node running in the prefix directory: /status/ready answers 503, Sluice waits
-w seconds (load balancers notice), sends SIGQUIT (requests in flight finish) and, if the node is
still running after -t seconds, SIGTERM.`,
    options: [PREFIX, CONF,
      { names: ['t', 'timeout'], value: 'SECONDS', help: 'timeout before forced shutdown (default 10)' },
      { names: ['w', 'wait'], value: 'SECONDS', help: 'wait time before initiating the shutdown (default 0)' }],
    run: async (p) => (await import('./stop.ts')).quit(p),
  },
  restart: {
    summary: "stop (if running), then start: 'sluice stop' and 'sluice start'",
    head: `Usage: sluice restart [OPTIONS]

Restart the node in the prefix directory: the same as 'sluice stop' (when it runs) and then
'sluice start'. For a configuration change without dropping connections use 'sluice reload'.`,
    options: START_OPTIONS,
    run: async (p) => (await import('./start.ts')).restart(p),
  },
  reload: {
    summary: 're-read the configuration: new workers take over, the old ones drain (SIGHUP)',
    head: `Usage: sluice reload [OPTIONS]

Reload the node in the prefix directory: the configuration is checked here first, then SIGHUP; the
node re-reads its configuration file, starts a new worker generation and drains the old one.
Exit 1 when the node refused the new configuration (it keeps running with the old one).`,
    options: [CONF, PREFIX,
      { names: ['no-wait'], help: 'signal only; do not wait for the outcome' },
      { names: ['t', 'timeout'], value: 'SECONDS', help: 'how long to wait for the outcome (default 90)' },
      NGINX_CONF, NGINX_CONF_FLAGS],
    run: async (p) => (await import('./reload.ts')).reload(p),
  },
  health: {
    summary: 'check that the node and its workers run (exit 1 when not)',
    head: `Usage: sluice health [OPTIONS]

Check the node running in the prefix directory: the primary process, readiness (/status/ready),
each worker and the database. Exit 1 when any is down.`,
    options: [PREFIX, CONF,
      { names: ['wait'], value: 'SECONDS', help: 'poll until healthy, up to this long' },
      { names: ['ready'], help: 'healthy means serving, also while the database is unreachable' }],
    run: async (p) => (await import('./health.ts')).health(p),
  },
  check: {
    summary: 'check the validity of a configuration file',
    head: `Usage: sluice check [<conf>] [OPTIONS]

Check the validity of a configuration file (with the KONG_* / SLUICE_* environment applied, as
'start' reads it). <conf> defaults to -c, $SLUICE_CONF, then the first of /etc/sluice/sluice.conf,
/etc/kong/kong.conf, /etc/kong.conf. Settings Sluice ignores are listed as warnings.`,
    options: [CONF, PREFIX],
    run: async (p) => (await import('./check.ts')).check(p),
  },
  prepare: {
    summary: 'prepare the prefix directory without starting',
    head: `Usage: sluice prepare [OPTIONS]

Check the configuration and prepare the prefix directory (logs/, .kong_env) without starting.
Sluice renders no nginx.conf: 'sluice start --foreground' runs the node.`,
    options: [CONF, PREFIX, NGINX_CONF],
    run: async (p) => (await import('./start.ts')).prepare(p),
  },
  drain: {
    summary: 'make /status/ready answer 503 (load balancers stop sending)',
    head: `Usage: sluice drain [OPTIONS]

Make the Status API's /status/ready answer 503 from now on; traffic is still served.`,
    options: [CONF, PREFIX],
    run: async (p) => (await import('./stop.ts')).drain(p),
  },
  reopen: {
    summary: 'reopen the error and access logs (SIGUSR1; logrotate)',
    head: `Usage: sluice reopen [OPTIONS]

Reopen the error and access logs of the running node (SIGUSR1), after logrotate moved them.`,
    options: [CONF, PREFIX],
    run: async (p) => (await import('./stop.ts')).reopen(p),
  },
  migrations: {
    summary: 'manage the database schema',
    head: `Usage: sluice migrations COMMAND [OPTIONS]

Manage database schema migrations.

The available commands are:
  bootstrap    bootstrap the database and run all migrations
  up           run any new migrations
  finish       finish pending migrations after 'up' (Sluice's run in one phase: nothing to do)
  list         list executed migrations; exit 0 up to date, 3 needs bootstrap, 5 new migrations
  reset        erase every Sluice table and its data (asks, or -y)
  status       print the migration state as JSON`,
    options: [
      { names: ['y', 'yes'], help: 'assume "yes" to prompts and run non-interactively' },
      { names: ['q', 'quiet'], help: 'suppress all output' },
      { names: ['f', 'force'], help: 'bootstrap: reset a bootstrapped database first' },
      DB_TIMEOUT, LOCK_TIMEOUT, CONF, PREFIX],
    run: async (p) => (await import('./migrations.ts')).migrations(p),
  },
  config: {
    summary: "declarative configuration files (Kong's kong.yml format)",
    head: `Usage: sluice config COMMAND [OPTIONS]

Use declarative configuration files with Sluice.

The available commands are:
  init [<file>]        generate an example config file (default: ./kong.yml)
  db_import <file>     import a declarative config file into the database (one transaction)
  db_export [<file>]   export the database into a declarative config file (default: ./kong.yml,
                       never over an existing file; - for stdout)
  parse <file>         parse and validate a declarative config file, load nothing
  keys                 list every configuration key with its default`,
    options: [CONF, PREFIX],
    run: async (p) => (await import('./config.ts')).configCommand(p),
  },
  version: {
    summary: "print Sluice's version (-a: and its dependencies')",
    head: `Usage: sluice version [OPTIONS]

Print Sluice's version and the Kong version whose Admin API and configuration it speaks.
With -a, also the versions of Node.js and uWebSockets.js.`,
    options: [{ names: ['a', 'all'], help: 'get version of all dependencies' }],
    run: async (p) => {
      if (flag(p, 'a', 'all') === undefined) {
        process.stdout.write(`Sluice ${SLUICE_VERSION} (Kong ${KONG_VERSION})\n`)
        return 0
      }
      process.stdout.write(`Sluice: ${SLUICE_VERSION}\nKong: ${KONG_VERSION}\nNode.js: ${process.versions.node}\n`)
      const { uwsInfo, formatUwsInfo } = await import('../worker/uws-load.ts')
      try { process.stdout.write(`uWebSockets.js: ${formatUwsInfo(uwsInfo()).replace(/^uWebSockets\.js /, '')}\n`) } catch (err) { process.stdout.write(`uWebSockets.js: ${(err as Error).message}\n`) }
      return 0
    },
  },
}

/** Kong commands Sluice does not have: a clear answer instead of "no such command". */
const NOT_SUPPORTED: Record<string, string> = {
  hybrid: "'kong hybrid' (control plane / data plane certificates): Sluice has no hybrid mode",
  vault: "'kong vault' is not available: {vault://...} references in entities are resolved by the running node (the env vault); see the README's Vault references",
}

const LIST = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(12)}${c.summary}`).join('\n')

export const HELP = `Usage: sluice COMMAND [OPTIONS]

A Kong-compatible API gateway (Kong ${KONG_VERSION}'s Admin API, kong.conf keys, KONG_* environment).

The available commands are:
${LIST}

Options:
  --v              verbose
  --vv             debug
  -h, --help       help (also 'sluice COMMAND --help')

Configuration: defaults < file (-c; else $SLUICE_CONF, /etc/sluice/sluice.conf, /etc/kong/kong.conf,
/etc/kong.conf) < KONG_<KEY> < SLUICE_<KEY> < command-line options (-p, --db-timeout).
Without pg_host, Sluice runs an embedded PostgreSQL under <prefix>/pgdata.
`

function fail (message: string, verbose: boolean, stack?: string): number {
  if (verbose && stack !== undefined) process.stderr.write(`Error: \n${stack}\n`)
  else process.stderr.write(`Error: ${message}\n\n  Run with --v (verbose) or --vv (debug) for more details\n`)
  return 1
}

/** Every option any command takes: enough to find the command word when options come first. */
const ANY_OPTION: OptionSpec[] = Object.values(COMMANDS).flatMap((c) => [...c.options])

export async function run (argv: string[]): Promise<number> {
  let first: Parsed
  try { first = parseArgs(argv, ANY_OPTION) } catch (err) { return fail((err as Error).message, false) }
  setVerbosity(flag(first, 'vv') !== undefined ? 2 : flag(first, 'v') !== undefined ? 1 : 0)
  const name = first.positionals[0]
  const help = flag(first, 'h', 'help') !== undefined
  if (name === undefined || name === 'help') {
    const topic = name === 'help' ? first.positionals[1] : undefined
    const c = topic !== undefined ? COMMANDS[topic] : undefined
    if (c !== undefined) { process.stdout.write(usage(c.head, c.options)); return 0 }
    if (name === undefined && !help) { process.stderr.write(HELP); return 1 }
    process.stdout.write(HELP)
    return 0
  }
  const cmd = COMMANDS[name]
  if (cmd === undefined) {
    if (NOT_SUPPORTED[name] !== undefined) return fail(NOT_SUPPORTED[name], false)
    process.stderr.write(`Error: No such command: ${name}\n\n${HELP}`)
    return 1
  }
  if (help) { process.stdout.write(usage(cmd.head, cmd.options)); return 0 }
  let p: Parsed
  try { p = parseArgs(argv, cmd.options, true) } catch (err) {
    process.stderr.write(`Error: ${(err as Error).message}\n\n${usage(cmd.head, cmd.options)}`)
    return 1
  }
  const verbose = getVerbosity() > 0
  if (verbose) process.stdout.write(`Sluice: ${SLUICE_VERSION} (Kong ${KONG_VERSION})\n`)
  try {
    return await cmd.run(p)
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`Error: ${err.message}\n\n${usage(cmd.head, cmd.options)}`)
      return 1
    }
    if (err instanceof ConfigError) {
      return fail(`invalid configuration:\n${err.errors.map((e) => `  ${e}`).join('\n')}`, verbose, err.stack)
    }
    return fail((err as Error).message, verbose, (err as Error).stack)
  }
}

export async function main (argv: string[]): Promise<void> {
  process.exitCode = await run(argv)
}
