/**
 * The one module that loads uWebSockets.js. Everything else imports uWS through `loadUws()`
 * (types may still come from `import type ... from 'uWebSockets.js'`).
 *
 * - Before the first load it sets `UWS_HTTP_MAX_HEADERS_SIZE` from Sluice's header-size limit.
 *   Builds that honour it read it once, with getenv, when the binary is first opened in the process
 *   (20.57: `secure_getenv` + the string `UWS_HTTP_MAX_HEADERS_SIZE` are in its binaries). 20.30's
 *   binary has neither: its limit is fixed at build time, and the variable is ignored. Which one a
 *   build is, is read from its binary, not from a version table.
 *   In a worker thread `process.env` is a per-thread copy that native code never sees (Node docs,
 *   worker_threads `env`), so the variable only reaches uWS when it was in the real environment
 *   before the first load: set it in the primary with `prepareUwsEnv()` before spawning workers.
 * - It loads the package with createRequire (uWS is CommonJS), opening the platform binary itself
 *   first: 20.30's loader silently falls back to a slow pure-JS server when the binary does not
 *   load, which a gateway must never do.
 * - It reports which build and Node ABI it loaded (`uwsInfo()`), for the start log, `sluice version`
 *   and `/status`.
 * - It turns the two known failures ("no binary for this Node ABI", "needs a newer glibc") into a
 *   one-paragraph error that says what to install instead (`formatUwsLoadError`, pure, tested).
 */
import { createRequire } from 'node:module'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { isMainThread } from 'node:worker_threads'

type Uws = typeof import('uWebSockets.js')

/** The builds Sluice knows; any other version loads too and is reported as it is. */
export type UwsBuild = '20.30.0-unofficial.0' | '20.57.0' | (string & {})

export const ENV_MAX_HEADERS = 'UWS_HTTP_MAX_HEADERS_SIZE'
export const LEGACY_BUILD = { package: '@trufflesuite/uws-js-unofficial', version: '20.30.0-unofficial.0', abis: ['93', '108', '115'], glibc: '2.27' }
export const CURRENT_BUILD = { version: '20.57.0', abis: ['115', '127', '137', '141'], glibc: '2.38' }
/** Node major for each ABI (process.versions.modules) uWS builds have shipped. */
const ABI_NODE: Record<string, string> = { 93: '16', 108: '18', 115: '20', 127: '22', 131: '23', 137: '24', 141: '25' }

export interface UwsInfo {
  /** The uWS build: the installed package's version. */
  build: UwsBuild
  /** `name@version` of the package behind the `uWebSockets.js` alias. */
  package: string
  /** process.versions.modules */
  nodeAbi: string
  node: string
  /** glibc at run time (null on a libc without one, e.g. musl, or where the report lacks it). */
  glibc: string | null
  platform: string
  arch: string
  /** The native binary for this platform/arch/ABI (null: the package has none). */
  binary: string | null
  /** True once this thread has loaded uWS through loadUws(). */
  loaded: boolean
  headerLimit: {
    /** The build reads UWS_HTTP_MAX_HEADERS_SIZE (null: unknown, no binary). */
    honoured: boolean | null
    /** The value uWS saw, or will see, at its first load in this process (null: its build default). */
    value: number | null
    /** Why the requested value does not apply, if it does not. */
    note: string | null
  }
}

export interface LoadUwsOptions {
  /** Sluice's limit for the request head (request line + header fields), bytes. */
  maxHeadersSize?: number
  /** Module to load; the `uWebSockets.js` alias by default (tests may point elsewhere). */
  specifier?: string
}

export type UwsLoadErrorKind = 'abi' | 'glibc' | 'missing' | 'fallback' | 'other'

export class UwsLoadError extends Error {
  readonly kind: UwsLoadErrorKind
  constructor (kind: UwsLoadErrorKind, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause })
    this.name = 'UwsLoadError'
    this.kind = kind
  }
}

/** What formatUwsLoadError needs to know about the runtime and the package (all plain data). */
export interface LoadContext {
  package: string
  build: string
  node: string
  nodeAbi: string
  glibc: string | null
  platform: string
  arch: string
  /** ABIs the package ships binaries for on this platform/arch. */
  abis: string[]
  /** The binary that was (or would have been) opened. */
  binary: string | null
}

const req = createRequire(import.meta.url)

let loaded: Uws | null = null
let loadedInfo: UwsInfo | null = null
let glibcCache: string | null | undefined

function glibcRuntime (): string | null {
  if (glibcCache !== undefined) return glibcCache
  let v: string | null = null
  try {
    const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header
    v = header?.glibcVersionRuntime ?? null
  } catch {}
  glibcCache = v
  return v
}

interface PackageFacts { dir: string; name: string; version: string; binary: string | null; abis: string[] }

/** The package directory behind `specifier`, its name, version and binaries (no native code run). */
function packageFacts (specifier: string): PackageFacts {
  let main: string
  try {
    main = req.resolve(specifier)
  } catch (err) {
    throw new UwsLoadError('missing',
      `uWebSockets.js could not be found (${String((err as Error).message).split('\n')[0]}). Install the build for this runtime: ` +
      installAdvice(process.versions.modules, glibcRuntime()), err)
  }
  let dir = dirname(main)
  let pkg: { name?: string; version?: string } = {}
  for (let i = 0; i < 4; i++) {
    const p = join(dir, 'package.json')
    if (existsSync(p)) {
      const parsed = JSON.parse(readFileSync(p, 'utf8')) as { name?: string; version?: string }
      if (parsed.name !== undefined) { pkg = parsed; break }
    }
    dir = dirname(dir)
  }
  const stem = `uws_${process.platform}_${process.arch}_`
  const abis = new Set<string>()
  let binary: string | null = null
  for (const sub of ['', 'binaries', 'dist']) {
    let names: string[] = []
    try { names = readdirSync(join(dir, sub)) } catch { continue }
    for (const n of names) {
      if (!n.startsWith(stem) || !n.endsWith('.node')) continue
      const abi = n.slice(stem.length, -'.node'.length)
      abis.add(abi)
      if (abi === process.versions.modules && binary === null) binary = join(dir, sub, n)
    }
  }
  return {
    dir,
    name: pkg.name ?? specifier,
    version: pkg.version ?? 'unknown',
    binary,
    abis: [...abis].sort((a, b) => Number(a) - Number(b)),
  }
}

const honourCache = new Map<string, boolean>()

/** Whether a uWS binary reads UWS_HTTP_MAX_HEADERS_SIZE: its name is in the binary's strings. */
export function binaryHonoursMaxHeaders (binary: string): boolean {
  let v = honourCache.get(binary)
  if (v === undefined) {
    v = readFileSync(binary).includes(ENV_MAX_HEADERS, 0, 'latin1')
    honourCache.set(binary, v)
  }
  return v
}

function nodeOf (abi: string): string {
  return ABI_NODE[abi] !== undefined ? `Node ${ABI_NODE[abi]}` : `ABI ${abi}`
}

function glibcAtLeast (have: string | null, want: string): boolean {
  if (have === null) return false
  const [a = 0, b = 0] = have.split('.').map(Number)
  const [c = 0, d = 0] = want.split('.').map(Number)
  return a > c || (a === c && b >= d)
}

const LEGACY_INSTALL = `"uWebSockets.js": "npm:${LEGACY_BUILD.package}@${LEGACY_BUILD.version}"`
const CURRENT_INSTALL = `"uWebSockets.js": "github:uNetworking/uWebSockets.js#v${CURRENT_BUILD.version}"`

/** What to install for a runtime, in one sentence or two. */
function installAdvice (abi: string, glibc: string | null): string {
  const legacyOk = LEGACY_BUILD.abis.includes(abi)
  const currentOk = CURRENT_BUILD.abis.includes(abi)
  const newGlibc = glibcAtLeast(glibc, CURRENT_BUILD.glibc)
  if (currentOk && newGlibc) {
    return `on this system (glibc ${glibc ?? '?'}) use the official uWebSockets.js v${CURRENT_BUILD.version} build ` +
      `(package.json: ${CURRENT_INSTALL}), which ships binaries for Node 20, 22, 24 and 25 and needs glibc >= ${CURRENT_BUILD.glibc}.`
  }
  if (legacyOk) {
    return `on this system (glibc ${glibc ?? 'unknown'}) use the ${LEGACY_BUILD.version} build ` +
      `(package.json: ${LEGACY_INSTALL}), which ships binaries for Node 16, 18 and 20 and needs glibc >= ${LEGACY_BUILD.glibc}; ` +
      `for Node 22 or 24 move to a system with glibc >= ${CURRENT_BUILD.glibc} (Debian 13, Ubuntu 24.04) and the official v${CURRENT_BUILD.version} build (${CURRENT_INSTALL}).`
  }
  return `either run Node 20 with the ${LEGACY_BUILD.version} build (package.json: ${LEGACY_INSTALL}; glibc >= ${LEGACY_BUILD.glibc}), ` +
    `or Node 20, 22, 24 or 25 on a system with glibc >= ${CURRENT_BUILD.glibc} (Debian 13, Ubuntu 24.04) with the official ` +
    `uWebSockets.js v${CURRENT_BUILD.version} build (package.json: ${CURRENT_INSTALL}), then run npm install.`
}

/**
 * Turns a failure to load uWS into one paragraph that says what to install instead. Pure: `err` may
 * be any thrown value (a real dlopen error, or a simulated one in tests).
 */
export function formatUwsLoadError (err: unknown, ctx: LoadContext): UwsLoadError {
  const raw = err instanceof Error ? err.message : String(err)
  const first = raw.split('\n').find((l) => l.includes('GLIBC_')) ?? raw.split('\n').filter((l) => l.trim() !== '').pop() ?? raw
  const where = `${ctx.platform}-${ctx.arch}`
  const runtime = `Node ${ctx.node} (ABI ${ctx.nodeAbi}) on ${where}` + (ctx.glibc !== null ? ` with glibc ${ctx.glibc}` : '')
  const glibcNeeded = /GLIBC_(\d+\.\d+)/.exec(raw)
  if (glibcNeeded !== null && /not found|version/i.test(raw)) {
    const want = glibcNeeded[1]!
    const legacyOk = LEGACY_BUILD.abis.includes(ctx.nodeAbi)
    return new UwsLoadError('glibc',
      `uWebSockets.js ${ctx.package} could not be loaded on ${runtime}: its binary needs a newer glibc ` +
      `(GLIBC_${want}; this system has ${ctx.glibc ?? 'an older one'}). ` +
      `Either run Sluice on a system with glibc >= ${want} (Debian 13, Ubuntu 24.04 or newer) where this build works as it is, ` +
      (legacyOk
        ? `or stay on this system with the ${LEGACY_BUILD.version} build: set ${LEGACY_INSTALL} in package.json and run npm install (it has binaries for Node 16, 18 and 20 only). `
        : `or stay on this system with Node 20 and the ${LEGACY_BUILD.version} build (${LEGACY_INSTALL} in package.json, then npm install; it has binaries for Node 16, 18 and 20 only). `) +
      `The loader said: ${first.trim()}`, err)
  }
  const noBinary = ctx.binary === null || /Cannot find module|no such file|ENOENT|MODULE_NOT_FOUND|NODE_MODULE_VERSION/i.test(raw)
  if (noBinary && ctx.abis.length > 0 && !ctx.abis.includes(ctx.nodeAbi)) {
    return new UwsLoadError('abi',
      `uWebSockets.js ${ctx.package} has no binary for ${runtime}: it ships binaries for ` +
      `${ctx.abis.map((a) => `${nodeOf(a)} (ABI ${a})`).join(', ')} only. ` +
      `Install what matches: ${installAdvice(ctx.nodeAbi, ctx.glibc)}`, err)
  }
  if (noBinary && ctx.abis.length === 0) {
    return new UwsLoadError('abi',
      `uWebSockets.js ${ctx.package} has no binary at all for ${where} (${runtime}); uWS builds ship glibc Linux, macOS and Windows binaries ` +
      `for x64 and arm64 only (no musl/Alpine). Install what matches: ${installAdvice(ctx.nodeAbi, ctx.glibc)}`, err)
  }
  return new UwsLoadError('other',
    `uWebSockets.js ${ctx.package} could not be loaded on ${runtime}` + (ctx.binary !== null ? ` from ${ctx.binary}` : '') +
    `: ${first.trim()}. If the build does not match this runtime, ${installAdvice(ctx.nodeAbi, ctx.glibc)}`, err)
}

/**
 * Puts Sluice's header-size limit into the process environment, where uWS's getenv sees it. Call it
 * in the primary (main thread) before spawning workers; loadUws() calls it itself on the main thread.
 * Returns false where it cannot reach native code (a worker thread) or where uWS is already loaded.
 */
export function prepareUwsEnv (maxHeadersSize: number): boolean {
  if (!Number.isInteger(maxHeadersSize) || maxHeadersSize <= 0) throw new RangeError(`maxHeadersSize must be a positive integer, got ${maxHeadersSize}`)
  if (!isMainThread || loaded !== null) return process.env[ENV_MAX_HEADERS] === String(maxHeadersSize)
  process.env[ENV_MAX_HEADERS] = String(maxHeadersSize)
  return true
}

function contextOf (facts: PackageFacts): LoadContext {
  return {
    package: `${facts.name}@${facts.version}`,
    build: facts.version,
    node: process.versions.node,
    nodeAbi: process.versions.modules,
    glibc: glibcRuntime(),
    platform: process.platform,
    arch: process.arch,
    abis: facts.abis,
    binary: facts.binary,
  }
}

function headerLimit (facts: PackageFacts, requested: number | undefined): UwsInfo['headerLimit'] {
  const honoured = facts.binary === null ? null : binaryHonoursMaxHeaders(facts.binary)
  const envRaw = process.env[ENV_MAX_HEADERS]
  const env = envRaw !== undefined && /^\d+$/.test(envRaw) ? Number(envRaw) : null
  let note: string | null = null
  if (honoured === false && requested !== undefined) {
    note = `the ${facts.version} build ignores ${ENV_MAX_HEADERS}: its request-head limit is fixed in the binary`
  } else if (honoured === true && requested !== undefined && env !== requested) {
    note = `${ENV_MAX_HEADERS}=${envRaw ?? '(unset)'} in the environment uWS read, not ${requested}: ` +
      'set it in the primary (prepareUwsEnv) before the workers start'
  }
  return { honoured, value: honoured === true ? env : null, note }
}

/** Loads uWebSockets.js once per thread; see the module comment. Throws UwsLoadError. */
export function loadUws (opts: LoadUwsOptions = {}): Uws {
  if (loaded !== null) return loaded
  const specifier = opts.specifier ?? 'uWebSockets.js'
  if (opts.maxHeadersSize !== undefined && isMainThread) prepareUwsEnv(opts.maxHeadersSize)
  const facts = packageFacts(specifier)
  const ctx = contextOf(facts)
  if (facts.binary === null) throw formatUwsLoadError(new Error(`no uws_${process.platform}_${process.arch}_${process.versions.modules}.node in ${facts.dir}`), ctx)
  let native: unknown
  try {
    native = req(facts.binary)
  } catch (err) {
    throw formatUwsLoadError(err, ctx)
  }
  let mod: Uws
  try {
    mod = req(specifier) as Uws
  } catch (err) {
    throw formatUwsLoadError(err, ctx)
  }
  // The package's own loader must hand back the native module we just opened (20.57 adds
  // DeclarativeResponse to that same object); anything else is a JS fallback (20.30 does that on
  // failure or when UWS_USE_FALLBACK is set).
  if ((mod as unknown) !== native) {
    throw new UwsLoadError('fallback',
      `uWebSockets.js ${ctx.package} returned a pure-JavaScript fallback instead of its native binary ${facts.binary}` +
      (process.env.UWS_USE_FALLBACK !== undefined ? ` (UWS_USE_FALLBACK=${process.env.UWS_USE_FALLBACK} is set: unset it)` : '') +
      '. Sluice needs the native server.')
  }
  loaded = mod
  loadedInfo = { ...describe(facts, ctx, opts.maxHeadersSize), loaded: true }
  return mod
}

function describe (facts: PackageFacts, ctx: LoadContext, requested: number | undefined): UwsInfo {
  return {
    build: facts.version,
    package: ctx.package,
    nodeAbi: ctx.nodeAbi,
    node: ctx.node,
    glibc: ctx.glibc,
    platform: ctx.platform,
    arch: ctx.arch,
    binary: facts.binary,
    loaded: false,
    headerLimit: headerLimit(facts, requested),
  }
}

/**
 * Which build and Node ABI this thread loaded; before loadUws(), what would load (read from the
 * installed package, without opening the binary). Throws UwsLoadError when no package is installed.
 */
export function uwsInfo (specifier = 'uWebSockets.js'): UwsInfo {
  if (loadedInfo !== null) return loadedInfo
  const facts = packageFacts(specifier)
  return describe(facts, contextOf(facts), undefined)
}

/** One line for the start log and `sluice version`. */
export function formatUwsInfo (i: UwsInfo): string {
  const lim = i.headerLimit.honoured === true
    ? `header limit ${i.headerLimit.value ?? 'build default'}`
    : i.headerLimit.honoured === false ? 'header limit fixed by build' : 'header limit unknown'
  return `uWebSockets.js ${i.package} (build ${i.build}) on Node ${i.node} (ABI ${i.nodeAbi}), ` +
    `${i.platform}-${i.arch}, glibc ${i.glibc ?? 'n/a'}, ${lim}`
}
