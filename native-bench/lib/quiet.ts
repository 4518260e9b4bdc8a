/**
 * Is anything else using the CPUs? The machines these benchmarks run on are shared (a test suite
 * in another session, an apt-get), and a 10 s load test that overlaps a CPU burst elsewhere
 * measures the burst. `foreignCpu` snapshots the CPU time of every process that is not this one or
 * a descendant (the servers and wrk are descendants); the difference of two snapshots is the CPU
 * others used meanwhile. A process's time includes its reaped children's (cutime, cstime), so the
 * short-lived processes of a test suite show up in their parent's figure once they exit; a process
 * that exits between two snapshots has its earlier total taken off, as its parent now holds it.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { CLK_TCK, processTree } from './proc.ts'

export type CpuSnapshot = Map<number, number>

export function foreignCpu (): CpuSnapshot {
  const mine = new Set(processTree(process.pid))
  const out: CpuSnapshot = new Map()
  let entries: string[] = []
  try { entries = readdirSync('/proc') } catch { return out }
  for (const e of entries) {
    const pid = Number(e)
    if (!Number.isInteger(pid) || pid <= 0 || mine.has(pid)) continue
    try {
      const s = readFileSync(`/proc/${pid}/stat`, 'utf8')
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ')
      // utime + stime + cutime + cstime (fields 14-17)
      out.set(pid, Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]))
    } catch {}
  }
  return out
}

/** CPU seconds other processes used between two snapshots (new processes: all they used). */
export function foreignSeconds (before: CpuSnapshot, after: CpuSnapshot): number {
  let ticks = 0
  for (const [pid, t] of after) ticks += Math.max(0, t - (before.get(pid) ?? 0))
  for (const [pid, t] of before) if (!after.has(pid)) ticks -= t
  return Math.max(0, ticks) / CLK_TCK
}

/**
 * Waits until others use less than `share` of one CPU over a `windowMs` window, for at most
 * `maxWaitMs`. Resolves true when quiet, false when it gave up.
 */
export async function waitQuiet (maxWaitMs: number, windowMs = 3000, share = 0.1): Promise<boolean> {
  const t0 = Date.now()
  for (;;) {
    const a = foreignCpu()
    await new Promise((resolve) => setTimeout(resolve, windowMs))
    if (foreignSeconds(a, foreignCpu()) < share * windowMs / 1000) return true
    if (Date.now() - t0 > maxWaitMs) return false
  }
}
