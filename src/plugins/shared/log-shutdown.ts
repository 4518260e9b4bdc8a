/**
 * Worker shutdown for the log plugins: what the queues and file sinks hold is sent or written
 * before the thread exits (Kong's queues flush without coalescing while a worker exits), within
 * a time limit; then collector connections (and azure-functions' pools) are closed. Called once from worker/main.ts shutdown.
 */
import { flushFileSinks } from '../file-log/file-writer.ts'
import { closeTcpSinks } from '../tcp-log/tcp-sender.ts'
import { flushQueues } from './log-queue.ts'
import { closePluginPools } from './http-pool.ts'

export async function flushLogPlugins (timeoutMs: number): Promise<void> {
  try {
    await Promise.all([flushQueues(timeoutMs), flushFileSinks(timeoutMs)])
    closeTcpSinks()
    await closePluginPools()
  } catch {
    // Shutdown goes on whatever happens here.
  }
}
