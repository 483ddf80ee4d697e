/**
 * `npm run bench`: measures the performance targets on this machine and prints one line per figure
 * (name, value, target, PASS/FAIL), then `bench: PASS` or `bench: FAIL <names>`; exits 1 on FAIL.
 * A script, not a test: timings depend on the machine. README-PERF.md explains each figure.
 *
 *   npm run bench                       full sizes (100k-request run, 1M-request streaming run)
 *   npm run bench -- --quick            smaller sizes, for a fast local check
 *   npm run bench -- --only shadow_throughput --only runtime_overhead_p95
 */
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {mustSucceed, runCli, type CliRun} from './cli.js'
import {benchCommit} from './commit.js'
import {figureLine, passes, type Figure, type Target} from './figure.js'
import {measureOverhead} from './overhead.js'
import {benchPolicy} from './policy.js'
import {measureImport} from './import.js'
import {measureCauseGrouping} from './causes.js'
import {measureBisect} from './bisect.js'
import {measureRedactHostile} from './redact.js'
import {measureRunVerdicts} from './tui-verdicts.js'
import {readThreads} from '../src/runs/map-run.js'
import {candidateModelCalls, shadowRun, startSandboxServer, type ShadowRun} from './shadow.js'
import {measureArgValidation} from './arg-validate.js'
import {measurePromptSections} from './prompt-sections.js'
import {benchStore} from './store.js'
import {measureServerScaling, measureShards} from './scale-out.js'
import {floorRun, type FloorRun} from './floor.js'
import {repoRoot, SCENARIO_MODEL, scenarioPaths, Workspace} from './workspace.js'

type Sizes = {run: number; overhead: number; warmup: number; stream: number; ollama: number; ollamaRounds: number; store: number; argCalls: number; policy: number; importLoops: number}

const FULL: Sizes = {run: 100_000, overhead: 20_000, warmup: 1_000, stream: 1_000_000, ollama: 5_000, ollamaRounds: 2, store: 100_000, argCalls: 1_000_000, policy: 100_000, importLoops: 20_000}
const QUICK: Sizes = {run: 10_000, overhead: 2_000, warmup: 500, stream: 100_000, ollama: 1_000, ollamaRounds: 1, store: 20_000, argCalls: 200_000, policy: 20_000, importLoops: 5_000}

type Context = {
  ws: Workspace
  sizes: Sizes
  sc: ReturnType<typeof scenarioPaths>
  mainRun: () => Promise<ShadowRun>
  /** The scripted replays of shadow_throughput (the main run first), made once per bench run. */
  scriptedRuns: () => Promise<ShadowRun[]>
  /** The `--model recorded` replays of recorded_throughput, made once per bench run. */
  recordedRuns: () => Promise<ShadowRun[]>
  /** The I/O floor's rounds over the same traffic file, made once per bench run. */
  floor: () => Promise<FloorRun[]>
}

type FigureDef = {name: string; target: Target; unit: string; measure: (ctx: Context) => Promise<Omit<Figure, 'name' | 'target' | 'unit'>>}

const k = (n: number) => (n >= 1_000_000 ? `${n / 1_000_000}M` : n >= 1000 ? `${n / 1000}k` : String(n))

/**
 * CLI figures are the best of a few runs: on a shared machine one run can lose a second to a
 * neighbour's burst, and the figure is about our code. Every time is printed, slowest included.
 */
const CLI_ROUNDS = 3
const REPLAY_ROUNDS = 2
const FLOOR_ROUNDS = 3

const rate = (r: {requests: number; replay_s: number}) => r.requests / r.replay_s
const fastest = <T extends {requests: number; replay_s: number}>(runs: T[]): T => runs.reduce((a, b) => (rate(b) > rate(a) ? b : a))
const cpuMs = (cpu_s: number, requests: number) => (1000 * cpu_s) / requests
const pct = (x: number) => `${(100 * x).toFixed(1)}%`

/** The fastest floor round, as replay rates are compared with it. */
function floorBest(runs: FloorRun[]): {rate: number; cpu_ms: number} {
  const best = runs.reduce((a, b) => (b.requests / b.wall_s > a.requests / a.wall_s ? b : a))
  return {rate: best.requests / best.wall_s, cpu_ms: Math.min(...runs.map((r) => cpuMs(r.cpu_s, r.requests)))}
}

/** A replay against the floor of the same bench run: its share by wall time and by CPU per request. */
async function floorShare(ctx: Context, run: ShadowRun): Promise<{wall: number; cpu: number; text: string}> {
  const floor = floorBest(await ctx.floor())
  const cpu = cpuMs(run.replay_cpu_s, run.requests)
  const wall = rate(run) / floor.rate
  const share = floor.cpu_ms / cpu
  return {wall, cpu: share, text: `${pct(wall)} of the I/O floor by wall time, CPU ${cpu.toFixed(3)} ms/request = ${pct(share)} of the floor's ${floor.cpu_ms.toFixed(3)} ms`}
}

/** The least CPU a request of `runs`, against the floor's of the same bench run. */
async function cpuPerRequest(ctx: Context, runs: ShadowRun[], of: string): Promise<{value: number; detail: string}> {
  const each = runs.map((r) => cpuMs(r.replay_cpu_s, r.requests))
  const value = Math.min(...each)
  const floor = floorBest(await ctx.floor())
  return {
    value,
    detail: `${of}'s ${runs.length} replays of ${k(runs[0]!.requests)} requests: ${each.map((c) => `${c.toFixed(3)} ms`).join(', ')} of CPU a request (every thread, from the run's creation to its end); the floor's ${floor.cpu_ms.toFixed(4)} ms`,
  }
}

async function bestOf(rounds: number, run: () => Promise<CliRun>, what: string): Promise<{best: CliRun; times: string}> {
  const runs: CliRun[] = []
  for (let i = 0; i < rounds; i++) runs.push(mustSucceed(await run(), what))
  const best = runs.reduce((a, b) => (b.wall_s < a.wall_s ? b : a))
  // CPU time (user + system, every thread) moves less with the machine's load than wall time does.
  const cpu = runs.map((r) => (r.user_s + r.system_s).toFixed(1)).join(', ')
  return {best, times: `${rounds} (${runs.map((r) => `${r.wall_s.toFixed(2)} s`).join(', ')}; CPU ${cpu} s)`}
}

export const FIGURES: FigureDef[] = [
  {
    // Derived: the end-to-end target needs the store to take two traces (recorded + candidate) per request.
    name: 'store_write',
    unit: 'traces/s',
    target: {op: '>=', value: 10_000},
    measure: async ({sizes}) => {
      const r = benchStore(sizes.store)
      return {value: r.write_per_s, detail: `${k(r.traces)} synthetic traces, batches of 500; iterate ${r.iterate_per_s.toLocaleString('en-US')} traces/s; ${(r.file_bytes / 2 ** 20).toFixed(0)} MiB`}
    },
  },
  {
    // The floor every replay figure is compared with, over the same generated traffic (#21).
    name: 'io_floor',
    unit: 'req/s',
    // A replay at its targets' share of the floor (25% scripted) reaches 5,000 req/s only above 20,000.
    target: {op: '>=', value: 20_000},
    measure: async (ctx) => {
      const runs = await ctx.floor()
      const best = floorBest(runs)
      return {
        value: best.rate,
        detail: `${k(runs[0]!.requests)} lines streamed, JSON.parse'd and inserted one row each into SQLite (WAL, batches of 1,000), one thread; best of ${runs.length} (${runs.map((r) => `${r.wall_s.toFixed(2)} s, CPU ${r.cpu_s.toFixed(2)} s`).join('; ')}); CPU ${best.cpu_ms.toFixed(4)} ms/request`,
      }
    },
  },
  {
    name: 'shadow_throughput',
    unit: 'req/s',
    target: {op: '>=', value: 5_000},
    measure: async (ctx) => {
      const runs = await ctx.scriptedRuns()
      const run = fastest(runs)
      const share = await floorShare(ctx, run)
      return {
        value: rate(run),
        detail: `${k(run.requests)} requests replayed in ${run.replay_s.toFixed(1)} s (process ${run.wall_s.toFixed(1)} s with start-up and traffic hashing); best of ${runs.length} (${runs.map((r) => `${Math.round(rate(r)).toLocaleString('en-US')} req/s, CPU ${r.replay_cpu_s.toFixed(1)} s`).join('; ')}); ${share.text}; candidate v2 vs recorded, scripted model, fixtures, SQLite on disk; peak RSS ${mb(run.max_rss_kb)} MB`,
      }
    },
  },
  {
    // #21: the scripted replay at a quarter of the floor by wall time.
    name: 'shadow_floor_share',
    unit: '%',
    target: {op: '>=', value: 25},
    measure: async (ctx) => {
      const share = await floorShare(ctx, fastest(await ctx.scriptedRuns()))
      return {value: 100 * share.wall, detail: `shadow_throughput's best replay: ${share.text}`}
    },
  },
  {
    // Model-free replay must be at least as fast as the scripted model it stands in for (#14).
    name: 'recorded_throughput',
    unit: 'req/s',
    target: {op: '>=', value: 5_000},
    measure: async (ctx) => {
      const runs = await ctx.recordedRuns()
      const run = fastest(runs)
      const scripted = await ctx.mainRun()
      const share = await floorShare(ctx, run)
      return {
        value: rate(run),
        detail: `${k(run.requests)} requests replayed in ${run.replay_s.toFixed(1)} s with --model recorded; best of ${runs.length} (${runs.map((r) => `${Math.round(rate(r)).toLocaleString('en-US')} req/s, CPU ${r.replay_cpu_s.toFixed(1)} s`).join('; ')}); ${share.text}; the scripted model's main run: ${Math.round(rate(scripted)).toLocaleString('en-US')} req/s; peak RSS ${mb(run.max_rss_kb)} MB`,
      }
    },
  },
  {
    // #21: the model-free replay at half of the floor by wall time.
    name: 'recorded_floor_share',
    unit: '%',
    target: {op: '>=', value: 50},
    measure: async (ctx) => {
      const share = await floorShare(ctx, fastest(await ctx.recordedRuns()))
      return {value: 100 * share.wall, detail: `recorded_throughput's best replay: ${share.text}`}
    },
  },
  {
    // #21: CPU a request, every thread of the process (replay, writer, V8's compiler and GC), over
    // the replay. CPU moves less with the machine's load than wall time, so the least of the runs.
    name: 'shadow_cpu_per_request',
    unit: 'ms',
    target: {op: '<=', value: 0.1},
    measure: async (ctx) => cpuPerRequest(ctx, await ctx.scriptedRuns(), 'shadow_throughput'),
  },
  {
    name: 'recorded_cpu_per_request',
    unit: 'ms',
    target: {op: '<=', value: 0.1},
    measure: async (ctx) => cpuPerRequest(ctx, await ctx.recordedRuns(), 'recorded_throughput'),
  },
  {
    // #21: what a replay leaves on disk per request (two traces: recorded and candidate), the
    // model-free replay's store once closed. Guardrail lists are stored once per store (schema v12).
    name: 'store_bytes_per_request',
    unit: 'B',
    target: {op: '<', value: 3_000},
    measure: async (ctx) => {
      const run = fastest(await ctx.recordedRuns())
      const scripted = await ctx.mainRun()
      return {
        value: run.store_bytes / run.requests,
        detail: `${k(run.requests)} requests with --model recorded: store ${mb(run.store_bytes / 1024)} MB; the scripted main run's ${mb(scripted.store_bytes / 1024)} MB (${Math.round(scripted.store_bytes / scripted.requests).toLocaleString('en-US')} B/request)`,
      }
    },
  },
  {
    // #21: the model-free replay on replay threads (`--threads`, one per CPU, at least 2) against
    // recorded_throughput's best one-thread replay of the same traffic, same bench run, each the best
    // of as many replays (one replay against the best of two is biased low). On 2 CPUs the main and
    // writer threads already keep ~1.5 busy, so the gain is small there (the default stays one
    // thread below 4 CPUs); the figure says whether sharing out costs more than it gives.
    name: 'recorded_threads_vs_one',
    unit: '×',
    target: {op: '>=', value: 1},
    measure: async (ctx) => {
      const ones = await ctx.recordedRuns()
      const one = fastest(ones)
      const threads = Math.max(2, os.availableParallelism())
      const runs: ShadowRun[] = []
      for (let i = 0; i < ones.length; i++) {
        const db = ctx.ws.file(`recorded-threads-${i}.db`)
        try {
          runs.push(await shadowRun(ctx.sc, ctx.ws.trafficFile(ctx.sizes.run).file, db, {model: 'recorded', skills: [], threads}))
        } finally {
          ctx.ws.remove(db)
        }
      }
      const run = fastest(runs)
      const share = await floorShare(ctx, run)
      const rates = (rs: ShadowRun[]) => rs.map((r) => `${Math.round(rate(r)).toLocaleString('en-US')} req/s, CPU ${r.replay_cpu_s.toFixed(1)} s`).join('; ')
      return {
        value: rate(run) / rate(one),
        detail: `${k(run.requests)} requests on ${threads} replay threads, best of ${runs.length} (${rates(runs)}), peak RSS ${mb(run.max_rss_kb)} MB (${share.text}); one thread, best of ${ones.length} (${rates(ones)}), peak RSS ${mb(one.max_rss_kb)} MB; ${os.availableParallelism()} CPUs`,
      }
    },
  },
  {
    name: 'runtime_overhead_p95',
    unit: 'ms',
    target: {op: '<', value: 1},
    measure: async ({ws, sizes, sc}) => {
      const traffic = ws.trafficFile(sizes.run).file
      const r = await measureOverhead(traffic, sc, sizes.overhead, sizes.warmup)
      return {
        value: r.p95_ms,
        detail: `${k(r.requests)} requests one at a time after ${k(r.warmup)} warm-up; p50 ${r.p50_ms.toFixed(3)} ms, p99 ${r.p99_ms.toFixed(3)} ms, max ${r.max_ms.toFixed(1)} ms; ${(r.model_calls / (r.requests + r.warmup)).toFixed(2)} model calls/request`,
      }
    },
  },
  {
    // Every proposed tool call is checked against its contract before anything else runs (#16).
    name: 'arg_validate_ns',
    unit: 'ns/call',
    target: {op: '<', value: 2_000},
    measure: async ({sizes}) => {
      const r = await measureArgValidation(repoRoot(), sizes.argCalls)
      return {value: r.ns_per_call, detail: `${k(r.calls)} checks over the ${r.distinct} tool calls recorded in support-refunds (${r.invalid} invalid), v2 contracts compiled once`}
    },
  },
  {
    // Every request's system prompt is chosen by its tenant's prompt sections and rendered (#18).
    name: 'prompt_sections_ns',
    unit: 'ns/request',
    target: {op: '<', value: 500},
    measure: async ({sizes}) => {
      const r = await measurePromptSections(repoRoot(), sizes.argCalls)
      return {
        value: r.select_ns,
        detail: `${k(r.requests)} requests of banking-assistant's ${r.tenants} tenants, one section flagged off for one; choosing and rendering the system prompt ${r.render_ns.toFixed(0)} ns with the flag, ${r.plain_render_ns.toFixed(0)} ns without`,
      }
    },
  },
  {
    // Every proposed tool call is decided by the policy engine: 50 rules, half of them CEL.
    name: 'policy_decision_p95_us',
    unit: 'µs',
    target: {op: '<', value: 20},
    measure: async ({sizes}) => {
      const r = benchPolicy(sizes.policy)
      return {
        value: r.p95_us,
        detail: `best of ${r.rounds_p95_us.length} rounds of ${k(r.decisions)} decisions (p95 ${r.rounds_p95_us.map((v) => v.toFixed(1)).join(', ')} µs), ${r.rules} rules (25 when, 25 CEL if), history of 10 calls; p50 ${r.p50_us.toFixed(2)} µs, p99 ${r.p99_us.toFixed(2)} µs`,
      }
    },
  },
  {
    // The redactor sees every text of every request; a pattern that rescans is a denial of service.
    name: 'redact_hostile_1mb_ms',
    unit: 'ms',
    target: {op: '<', value: 50},
    measure: async () => {
      const r = measureRedactHostile()
      const others = Object.entries(r.times).filter(([n]) => n !== r.worst)
      return {value: r.worst_ms, detail: `slowest of ${Object.keys(r.times).length} hostile 1 MiB texts: ${r.worst}; ${others.map(([n, ms]) => `${n} ${ms.toFixed(1)}`).join(', ')} ms; best of 5 each`}
    },
  },
  {
    // A team's API log can hold millions of lines; import must not be the slow step before a shadow run.
    name: 'import_openai_throughput',
    unit: 'lines/s',
    // A million-line log in under 3.5 minutes on one core.
    target: {op: '>=', value: 5_000},
    measure: async ({sizes}) => {
      const r = measureImport(sizes.importLoops)
      return {value: r.lines_per_s, detail: `importTrafficText('openai') over ${k(r.lines)} lines (${r.mib.toFixed(0)} MiB, agent loops of 3 steps → ${k(r.requests)} requests), in process; best of 3`}
    },
  },
  {
    name: 'diff_time',
    unit: 's',
    target: {op: '<', value: 5},
    measure: async (ctx) => {
      const run = await ctx.mainRun()
      const r = await bestOf(CLI_ROUNDS, () => runCli(ctx.ws, ['diff', run.run_id, '--db', run.db], {stdout: 'discard'}), 'understudy diff')
      return {value: r.best.wall_s, detail: `understudy diff over the ${k(run.requests)}-request run, CLI start-up included, read on ${readThreads()} threads; best of ${r.times}; peak RSS ${mb(r.best.max_rss_kb)} MB`}
    },
  },
  {
    name: 'report_json_time',
    unit: 's',
    target: {op: '<', value: 5},
    measure: async (ctx) => {
      const run = await ctx.mainRun()
      const r = await bestOf(CLI_ROUNDS, () => runCli(ctx.ws, ['report', run.run_id, '--format', 'json', '--db', run.db], {stdout: 'discard'}), 'understudy report')
      return {value: r.best.wall_s, detail: `understudy report --format json over the ${k(run.requests)}-request run, read on ${readThreads()} threads; best of ${r.times}; peak RSS ${mb(r.best.max_rss_kb)} MB`}
    },
  },
  {
    // The TUI runs list's verdict columns: one run's summary on the TUI's thread while keys wait (#20).
    name: 'tui_run_verdict_cpu_ms',
    unit: 'ms',
    target: {op: '<', value: 250},
    measure: async ({ws}) => {
      const r = await measureRunVerdicts(ws.dir)
      return {
        value: r.cpu_ms_median,
        detail: `${r.runs} runs of ${r.traces_per_run} traces: list drawn in ${r.list_ms.toFixed(0)} ms; verdict CPU per run median ${r.cpu_ms_median.toFixed(0)} ms, max ${r.cpu_ms_max.toFixed(0)} ms; one 24-row screen (9 runs) ${r.screen_s.toFixed(2)} s, all ${r.all_s.toFixed(2)} s, again from the cache ${r.cached_ms.toFixed(2)} ms`,
      }
    },
  },
  {
    // Grouping by cause runs inside every report and `diff --by cause`: its own cost as a share of
    // the comparison it rides on (read, diff, classify), both timed in one process, so that the
    // machine's load moves both alike (#19). The comparison is about half of report_json_time.
    name: 'cause_grouping_share',
    unit: '%',
    target: {op: '<', value: 10},
    measure: async (ctx) => {
      const run = await ctx.mainRun()
      const r = measureCauseGrouping(run.db, run.run_id)
      return {
        value: (100 * r.grouping_s) / r.compare_s,
        detail: `causeKey + tally over the ${k(r.requests)}-request run, in process: ${r.grouping_s.toFixed(2)} s for ${k(r.differing)} differing requests into ${r.groups} groups, against ${r.compare_s.toFixed(2)} s for the comparison on one thread`,
      }
    },
  },
  {
    // A naive bisect replays every request that differs for every subset it tries, paying every
    // model call; bisect replays a sample of one cause group per subset and reuses cached answers.
    name: 'bisect_model_calls',
    unit: '× fewer',
    target: {op: '>=', value: 5},
    measure: async ({ws, sc}) => {
      const {result: r, naive_all} = await measureBisect(ws, sc)
      const m = r.replays.model_calls
      return {
        value: naive_all / m.made,
        detail:
          `support-refunds v2 vs v1 over the Ollama-protocol sandbox, regression groups: ${m.made.toLocaleString('en-US')} model calls made, ${m.avoided.toLocaleString('en-US')} answered from the cache; ` +
          `naive (${r.replays.hybrids - r.invalid.length} tried subsets × ${r.differing.requests} differing requests at the run's ${r.differing.candidate_model_calls.toLocaleString('en-US')} calls) ${naive_all.toLocaleString('en-US')}; ` +
          `the same search without cache and memo ${r.replays.naive_model_calls.toLocaleString('en-US')} (${(r.replays.naive_model_calls / m.made).toFixed(1)}×)`,
      }
    },
  },
  {
    name: 'bisect_wall',
    unit: 's',
    target: {op: '<', value: 60},
    measure: async ({ws, sc}) => {
      const {result: r, wall_s} = await measureBisect(ws, sc)
      const groups = r.attributions.reduce((n, a) => n + a.groups.length, 0) + r.unattributed.length
      return {
        value: wall_s,
        detail: `understudy bisect --class regression, whole process: ${groups} groups, ${r.changes.length} atomic changes, ${r.replays.hybrids} hybrid bundles, ${r.replays.requests} request replays`,
      }
    },
  },
  {
    name: 'ollama_http_overhead',
    unit: 'ms/call',
    target: {op: '<', value: 2},
    measure: async ({ws, sizes, sc}) => {
      const traffic = ws.trafficFile(sizes.ollama, 11).file
      const server = await startSandboxServer(sc)
      try {
        let inproc = Infinity
        let http = Infinity
        let calls = 0
        let same = true
        for (let round = 0; round < sizes.ollamaRounds; round++) {
          const a = await shadowRun(sc, traffic, ws.file(`ollama-inproc-${round}.db`), {concurrency: 8})
          const b = await shadowRun(sc, traffic, ws.file(`ollama-http-${round}.db`), {concurrency: 8, model: `ollama:${SCENARIO_MODEL}`, ollama_host: server.url})
          inproc = Math.min(inproc, a.replay_s)
          http = Math.min(http, b.replay_s)
          calls = candidateModelCalls(b.db, b.run_id)
          same &&= JSON.stringify(a.status) === JSON.stringify(b.status)
          ws.remove(a.db)
          ws.remove(b.db)
        }
        return {
          value: ((http - inproc) * 1000) / calls,
          detail: `${k(sizes.ollama)} requests, ${calls.toLocaleString('en-US')} model calls, --concurrency 8: in-process ${inproc.toFixed(2)} s, over HTTP ${http.toFixed(2)} s (best of ${sizes.ollamaRounds}); outcomes ${same ? 'identical' : 'DIFFER'}`,
        }
      } finally {
        await server.stop()
      }
    },
  },
  {
    // `shadow --shard i/4` ×4 at once, then `runs merge`, against the one-process main run, same
    // traffic (#21). Each shard reads and checks every line (only its own are replayed), so on one
    // machine the shards can at best use the cores the single process leaves idle; the figure says
    // what sharding costs where it cannot gain, the gain being more machines (docs/scale-out.md).
    name: 'shard4_merge_vs_single',
    unit: '×',
    target: {op: '>=', value: 0.8},
    measure: async (ctx) => {
      const single = await ctx.mainRun()
      const r = await measureShards(ctx.ws, ctx.sc, ctx.ws.trafficFile(ctx.sizes.run).file, single, 4)
      return {
        value: r.single_s / (r.shards_s + r.merge_s),
        detail: `${k(r.requests)} requests: one process ${r.single_s.toFixed(1)} s; 4 shard processes at once ${r.shards_s.toFixed(1)} s (each ${r.shard_walls.map((w) => w.toFixed(1)).join(', ')} s) + runs merge ${r.merge_s.toFixed(1)} s (${k(r.merged_requests)} requests merged) on ${os.cpus().length} CPUs`,
      }
    },
  },
  {
    // `--ollama-host a,b,c` over servers that answer one call at a time after a fixed delay (#21):
    // 3 servers against 1, same traffic, same bench run. Linear would be 3.
    name: 'ollama_3_servers_vs_1',
    unit: '×',
    target: {op: '>=', value: 2.5},
    measure: async ({ws, sizes, sc}) => {
      // Delay-bound, not CPU-bound: a few hundred requests say it (fewer with --quick).
      const traffic = ws.trafficFile(sizes.run >= 100_000 ? 120 : 45, 13).file
      const r = await measureServerScaling(ws, sc, traffic, 3, 300)
      return {
        value: r.per_s[2]! / r.per_s[0]!,
        detail: `${k(r.requests)} requests, --concurrency 8, servers answering one call at a time after ${r.delay_ms} ms: ${r.per_s.map((v, i) => `${i + 1} server${i === 0 ? '' : 's'} ${v.toFixed(1)} req/s`).join(', ')} (2 vs 1: ${(r.per_s[1]! / r.per_s[0]!).toFixed(2)}×); HTTP requests per server ${r.calls.map((c) => c.join('/')).join(', ')}`,
      }
    },
  },
  {
    name: 'stream_peak_rss',
    unit: 'MB',
    target: {op: '<', value: 250},
    measure: async ({ws, sizes, sc}) => {
      const {file, bytes, generate_s} = ws.trafficFile(sizes.stream, 3)
      const db = ws.file('stream.db')
      try {
        const run = await shadowRun(sc, file, db)
        return {
          value: run.max_rss_kb / 1024,
          detail: `${k(run.requests)} requests (${(bytes / 2 ** 30).toFixed(2)} GiB traffic, generated in ${generate_s.toFixed(0)} s) replayed in ${run.replay_s.toFixed(0)} s (${Math.round(run.requests / run.replay_s).toLocaleString('en-US')} req/s); peak RSS of the shadow process`,
        }
      } finally {
        ws.remove(file)
        ws.remove(db)
      }
    },
  },
]

function mb(kb: number): string {
  return (kb / 1024).toFixed(0)
}

type Args = {quick: boolean; only: string[]}

function parseArgs(argv: string[]): Args {
  const args: Args = {quick: false, only: []}
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a === '--quick') args.quick = true
    else if (a === '--only' || a.startsWith('--only=')) {
      const value = a === '--only' ? argv[++i] : a.slice('--only='.length)
      if (!value) throw new Error('--only needs a figure name')
      args.only.push(...value.split(',').filter(Boolean))
    } else if (a === '--help' || a === '-h') {
      process.stdout.write(`usage: npm run bench [-- --quick] [-- --only <name>[,<name>…]]\nfigures: ${FIGURES.map((f) => f.name).join(', ')}\n`)
      process.exit(0)
    } else throw new Error(`unknown argument "${a}" (use --quick, --only <name>)`)
  }
  const unknown = args.only.filter((n) => !FIGURES.some((f) => f.name === n))
  if (unknown.length > 0) throw new Error(`--only: no figure ${unknown.map((n) => `"${n}"`).join(', ')}; figures: ${FIGURES.map((f) => f.name).join(', ')}`)
  return args
}

export async function main(argv: string[]): Promise<number> {
  let args: Args
  try {
    args = parseArgs(argv)
  } catch (e) {
    process.stderr.write(`bench: ${(e as Error).message}\n`)
    return 2
  }
  const sizes = args.quick ? QUICK : FULL
  const selected = args.only.length > 0 ? FIGURES.filter((f) => args.only.includes(f.name)) : FIGURES
  const ws = new Workspace()
  const sc = scenarioPaths()
  let main: Promise<ShadowRun> | null = null
  let scripted: Promise<ShadowRun[]> | null = null
  let recorded: Promise<ShadowRun[]> | null = null
  let floor: Promise<FloorRun[]> | null = null
  const traffic = () => ws.trafficFile(sizes.run).file
  const ctx: Context = {
    ws,
    sizes,
    sc,
    mainRun: () => (main ??= shadowRun(sc, traffic(), ws.file('main.db'))),
    // Best of REPLAY_ROUNDS, like the CLI figures: the main run (which diff and report read) and
    // further replays of the same traffic into stores removed at once.
    scriptedRuns: () =>
      (scripted ??= (async () => {
        const runs = [await ctx.mainRun()]
        for (let i = 1; i < REPLAY_ROUNDS; i++) {
          const extra = await shadowRun(sc, traffic(), ws.file(`replay-${i}.db`))
          ws.remove(extra.db)
          runs.push(extra)
        }
        return runs
      })()),
    recordedRuns: () =>
      (recorded ??= (async () => {
        const runs: ShadowRun[] = []
        for (let i = 0; i < REPLAY_ROUNDS; i++) {
          const r = await shadowRun(sc, traffic(), ws.file(`recorded-${i}.db`), {model: 'recorded', skills: []})
          ws.remove(r.db)
          runs.push(r)
        }
        return runs
      })()),
    floor: () =>
      (floor ??= (async () => {
        const runs: FloorRun[] = []
        for (let i = 0; i < FLOOR_ROUNDS; i++) runs.push(await floorRun(traffic(), ws.file(`floor-${i}.db`)))
        return runs
      })()),
  }
  const cpus = os.cpus()
  console.log(`bench: commit ${benchCommit(repoRoot())}; ${args.quick ? 'quick' : 'full'} sizes; node ${process.version}; ${cpus.length} × ${cpus[0]?.model.trim() ?? 'cpu'}; load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}; tmp ${ws.dir}`)
  const failed: string[] = []
  const onSignal = () => {
    ws.cleanup()
    process.exit(130)
  }
  const onExit = () => ws.cleanup()
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  // Whatever way the process ends, generated files (a 1M-request traffic file is 1.2 GiB) go with it.
  process.on('exit', onExit)
  try {
    for (const def of selected) {
      const t0 = performance.now()
      let figure: Figure
      try {
        const m = await def.measure(ctx)
        figure = {name: def.name, unit: def.unit, target: def.target, ...m}
      } catch (e) {
        figure = {name: def.name, unit: def.unit, target: def.target, value: NaN, detail: `error: ${(e as Error).message.split('\n')[0]}`}
      }
      if (!passes(figure)) failed.push(def.name)
      console.log(`${figureLine(figure)} [${((performance.now() - t0) / 1000).toFixed(0)} s, load ${os.loadavg()[0]!.toFixed(1)}]`)
    }
  } finally {
    ws.cleanup()
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    process.off('exit', onExit)
  }
  console.log(failed.length === 0 ? 'bench: PASS' : `bench: FAIL ${failed.join(' ')}`)
  return failed.length === 0 ? 0 : 1
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2))
}
