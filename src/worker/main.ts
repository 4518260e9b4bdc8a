/**
 * Worker thread entry: one proxy worker. Spawned by the primary with `workerData: WorkerData`
 * (common/protocol.ts; `config` is the structured-cloned Config) and driven by its messages.
 *
 *   waiting --first snapshot decoded + compiled--> listen on every proxy_listen (TLS too) --> serving
 *      |           (post `ready` with the bound port)                                        |
 *      |                                                                                      |
 *      +------------------------------ shutdown {graceMs} -------------------------------->   v
 *                                                                                         draining
 *   serving: a newer snapshot is compiled, its pools reconciled, then swapped in with one     |
 *   assignment (server.ts setSnapshot) and acknowledged (`snapshot-ack`, compile time); one     |
 *   that fails to compile is reported (`snapshot-error`) and the old one keeps serving; older  |
 *   versions are ignored, the same version is acknowledged again.                              v
 *   draining: listen sockets closed (us_listen_socket_close: mandatory before exit), requests
 *   in flight finish, up to graceMs; then upstream pools are destroyed, `drained` is posted and
 *   the thread exits.
 *
 * `metrics` goes out once per second. Nothing thrown on a request path may end the thread: the
 * hot-path modules catch and answer, and stray exceptions are reported as `error` messages.
 */
import type { UpstreamHealthMessage } from '../common/health.ts'
import { parentPort, workerData } from 'node:worker_threads'
import { decodeDelta, decodeSnapshot } from '../common/codec.ts'
import { configureLog, followLogLevel, log } from '../common/log.ts'
import { PROTOCOL_VERSION, type PrimaryToWorker, type WorkerData, type WorkerToPrimary } from '../common/protocol.ts'
import type { Config } from '../config/load.ts'
import { CompileState } from './compile-delta.ts'
import { setDraining, stats, whenIdle } from './lifecycle.ts'
import { closeConnections, closeListeners, listenAll, setSnapshot, setTlsSnapshot, whenTlsSettled, type Bound } from './server.ts'
import { initSettings } from './settings.ts'
import { UpstreamRegistry } from './upstreams.ts'
import { applyUpstreamHealth, dnsStats } from './balancer/runtime.ts'
import { rateLimitClient } from './ratelimit-client.ts'
import { closeAccessLog, initAccessLog } from './access-log.ts'
import { takeMetricsDelta } from './metrics-recorder.ts'
import { flushLogPlugins } from '../plugins/shared/log-shutdown.ts'
import { onProxyCacheMessage } from '../plugins/proxy-cache/purge.ts'
import { onOAuth2Reply } from '../plugins/oauth2/client.ts'

if (parentPort === null) throw new Error('src/worker/main.ts must run as a worker thread')
const port = parentPort
const data = workerData as WorkerData
const workerId = data.workerId
const config = data.config as Config

configureLog(config.logLevel ?? 'notice', `worker#${workerId}`)
followLogLevel(config.prefix) // the dynamic level the Admin API sets (primary/log-level.ts)
const settings = initSettings(config)
initAccessLog(config, workerId)
const registry = new UpstreamRegistry(settings)

let phase: 'waiting' | 'serving' | 'draining' = 'waiting'
let version = -1
let bound: Bound[] = []
let metricsTimer: NodeJS.Timeout | null = null
/** Rows + compile parts of the version served, for deltas (compile-delta.ts); null until the first snapshot. */
let state: CompileState | null = null
/** A resync was asked for: deltas are ignored until a full snapshot arrives. */
let resyncing = false

function post (msg: WorkerToPrimary): void {
  port.postMessage(msg)
}

rateLimitClient.connect(workerId, post) // rate limiting: batches go to the primary

function message (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

function onSnapshot (msgVersion: number, bytes: Uint8Array): void {
  if (phase === 'draining') return
  if (msgVersion < version) return
  if (msgVersion === version && state !== null) {
    resyncing = false
    post({ type: 'snapshot-ack', workerId, version, compileMs: 0 })
    return
  }
  const t0 = performance.now()
  let next: CompileState
  let decoded // TLS: certificates and SNIs go to setTlsSnapshot
  try {
    decoded = decodeSnapshot(bytes)
    next = CompileState.compile(decoded, undefined, config.nodeId ?? '')
    registry.reconcile(next.compiled.targets)
  } catch (err) {
    log.error(`snapshot ${msgVersion} rejected: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
    post({ type: 'snapshot-error', workerId, version: msgVersion, message: message(err) })
    return
  }
  state = next
  resyncing = false
  setSnapshot(next.compiled)
  setTlsSnapshot(decoded) // TLS: new certificates by SNI, applied to the TLS listeners without a restart
  version = msgVersion
  const compileMs = performance.now() - t0
  if (phase === 'serving') {
    acknowledge(compileMs)
    return
  }
  try {
    bound = listenAll(config.proxyListen ?? [], config.prefix) // TLS: prefix holds the default certificate
  } catch (err) {
    post({ type: 'error', workerId, code: 'LISTEN_FAILED', message: message(err) })
    process.exit(1)
  }
  phase = 'serving'
  metricsTimer = setInterval(postMetrics, 1000)
  metricsTimer.unref()
  post({ type: 'ready', protocol: PROTOCOL_VERSION, workerId, snapshotVersion: version, port: bound[0]?.port ?? 0 })
}

/** TLS: acknowledged once new TLS connections can only get the new certificates (a swap closes
 *  the previous listen socket two event-loop turns later; at once otherwise). */
function acknowledge (compileMs: number): void {
  const v = version
  whenTlsSettled(() => { post({ type: 'snapshot-ack', workerId, version: v, compileMs }) })
}

/**
 * A delta on top of the version served (compile-delta.ts). Applied only on its exact base; any
 * gap or failure keeps the current configuration serving and asks the primary for the full
 * snapshot (it then ignores deltas until that arrives; one bad delta never ends the worker).
 */
function onDelta (base: number, msgVersion: number, bytes: Uint8Array): void {
  if (phase === 'draining' || resyncing) return
  if (msgVersion <= version) return
  const resync = (reason: string): void => {
    resyncing = true
    log.warn(`delta ${base} -> ${msgVersion}: ${reason}; asking for the full snapshot`)
    post({ type: 'snapshot-resync', workerId, version, reason })
  }
  if (state === null || base !== version || phase !== 'serving') { resync(`serving ${version}`); return }
  const t0 = performance.now()
  try {
    const { compiled, tls } = state.apply(decodeDelta(bytes))
    registry.reconcile(compiled.targets)
    setSnapshot(compiled)
    if (tls !== null) setTlsSnapshot(tls)
  } catch (err) {
    state = null
    resync(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
    return
  }
  version = msgVersion
  acknowledge(performance.now() - t0)
}

/** Health verdicts from the node's registry (primary/health); applied by the balancers (worker/balancer, issue #7). */
function onUpstreamHealth (msg: UpstreamHealthMessage): void {
  applyUpstreamHealth(msg)
}

function postMetrics (): void {
  post({ type: 'metrics', workerId, requests: stats.requests, connections: stats.inflight })
  post({ type: 'metrics-delta', workerId, delta: takeMetricsDelta() })
}

function shutdown (graceMs: number): void {
  if (phase === 'draining') return
  phase = 'draining'
  // Responses from now on carry Connection: close (keep-alive clients would race the close).
  setDraining()
  rateLimitClient.close() // rate limiting: last batch out, parked requests released
  const apps = bound
  closeListeners(apps)
  bound = []
  if (metricsTimer !== null) clearInterval(metricsTimer)
  let done = false
  const finish = (): void => {
    if (done) return
    done = true
    clearTimeout(timer)
    // Idle keep-alive connections, and requests still running after the grace period, end here.
    closeConnections(apps)
    postMetrics()
    closeAccessLog()
    // Queued log-plugin entries (http-log, tcp-log, ...) are sent before the thread goes.
    flushLogPlugins(Math.min(5000, Math.max(500, graceMs))).finally(() => {
      registry.destroyAll().finally(() => {
        post({ type: 'drained', workerId })
        // Let the message leave before the thread goes.
        setImmediate(() => process.exit(0))
      })
    })
  }
  const timer = setTimeout(finish, Math.max(0, graceMs))
  // Drain settle: a connection accepted just before the listeners closed may not have sent its request yet.
  setTimeout(() => { whenIdle(finish) }, Math.min(250, Math.max(0, graceMs))).unref()
}

port.on('message', (msg: PrimaryToWorker) => {
  try {
    switch (msg.type) {
      case 'snapshot':
        onSnapshot(msg.version, msg.bytes)
        break
      case 'snapshot-delta':
        onDelta(msg.base, msg.version, msg.bytes)
        break
      case 'shutdown':
        shutdown(msg.graceMs)
        break
      // rate limiting (worker/ratelimit-client.ts)
      case 'rl-init':
        rateLimitClient.onInit(msg)
        break
      case 'rl-totals':
        rateLimitClient.onTotals(msg)
        break
      // proxy-cache Admin API (plugins/proxy-cache/purge.ts): look up / purge this worker's cache
      case 'proxy-cache':
        post(onProxyCacheMessage(msg, workerId))
        break
      // oauth2 plugin: grant results, token lookups, token-cache invalidations (plugins/oauth2/client.ts)
      case 'oauth2-reply':
        onOAuth2Reply(msg)
        break
      // upstream health verdicts (worker/balancer)
      case 'upstream-health':
        onUpstreamHealth(msg)
        break
      // GET /status/dns (primary/dns-stats.ts): this worker's DnsCache statistics
      case 'dns-stats':
        post({ type: 'dns-stats-result', workerId, seq: msg.seq, report: dnsStats() })
        break
      default: {
        const never: never = msg
        log.warn(`unknown message ${JSON.stringify(never)}`)
      }
    }
  } catch (err) {
    post({ type: 'error', workerId, code: 'MESSAGE_FAILED', message: message(err) })
  }
})

process.on('uncaughtException', (err) => {
  log.error(`uncaught: ${err.stack ?? err.message}`)
  post({ type: 'error', workerId, code: 'UNCAUGHT_EXCEPTION', message: err.message })
})

process.on('unhandledRejection', (reason) => {
  log.error(`unhandled rejection: ${message(reason)}`)
  post({ type: 'error', workerId, code: 'UNHANDLED_REJECTION', message: message(reason) })
})
