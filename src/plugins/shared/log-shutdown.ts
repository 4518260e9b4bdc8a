/**
 * Worker shutdown for the log plugins: what the queues and file sinks hold is sent or written
 * before the thread exits (Kong's queues flush without coalescing while a worker exits), within
 * a time limit; then collector connections are closed. Called once from worker/main.ts shutdown.
 */
import { closeHttpLogPools } from '../http-log/sender.ts'
import { flushFileSinks } from '../file-log/file-writer.ts'
import { closeTcpSinks } from '../tcp-log/tcp-sender.ts'
import { flushQueues } from './log-queue.ts'

export async function flushLogPlugins (timeoutMs: number): Promise<void> {
  try {
    await Promise.all([flushQueues(timeoutMs), flushFileSinks(timeoutMs)])
    closeTcpSinks()
    await closeHttpLogPools()
  } catch {
    // Shutdown goes on whatever happens here.
  }
}
