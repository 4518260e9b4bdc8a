/**
 * Per-process facts from /proc, for the servers under load: CPU time (user and system, all threads,
 * the whole process tree: nginx's master and workers count together), resident memory, and CPU
 * affinity (taskset) for pinned runs. Linux only; every reader returns zeros when /proc is missing.
 */
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'

/** Clock ticks per second of utime/stime in /proc/<pid>/stat. */
export const CLK_TCK = ((): number => {
  try { return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100 } catch { return 100 }
})()

/** Fields after `(comm)`: index 0 is field 3 (state) of proc(5). */
function statFields (pid: number): string[] | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return s.slice(s.lastIndexOf(')') + 2).split(' ')
  } catch {
    return null
  }
}

/** `root` and all its descendants, found through the ppid field of every /proc/<pid>/stat. */
export function processTree (root: number): number[] {
  const children = new Map<number, number[]>()
  let entries: string[] = []
  try { entries = readdirSync('/proc') } catch { return [root] }
  for (const e of entries) {
    const pid = Number(e)
    if (!Number.isInteger(pid) || pid <= 0) continue
    const f = statFields(pid)
    if (f === null) continue
    const ppid = Number(f[1])
    const list = children.get(ppid)
    if (list === undefined) children.set(ppid, [pid])
    else list.push(pid)
  }
  const out: number[] = []
  const todo = [root]
  while (todo.length > 0) {
    const p = todo.pop()!
    out.push(p)
    for (const c of children.get(p) ?? []) todo.push(c)
  }
  return out
}

export interface CpuTime { user: number; system: number }

/** CPU seconds used so far by the processes (all their threads). */
export function cpuTime (pids: readonly number[]): CpuTime {
  let user = 0
  let system = 0
  for (const pid of pids) {
    const f = statFields(pid)
    if (f === null) continue
    user += Number(f[11]) // utime, field 14
    system += Number(f[12]) // stime, field 15
  }
  return { user: user / CLK_TCK, system: system / CLK_TCK }
}

/** Resident memory in bytes, summed over the processes. */
export function rssBytes (pids: readonly number[]): number {
  let kb = 0
  for (const pid of pids) {
    try {
      const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
      if (m !== null) kb += Number(m[1])
    } catch {}
  }
  return kb * 1024
}

/** Sets the CPU list (taskset syntax, `0` or `0-1`) of every thread of every process given. */
export function setAffinity (pids: readonly number[], cpus: string): void {
  for (const pid of pids) {
    try { execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' }) } catch {}
  }
}
