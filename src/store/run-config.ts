import {z} from 'zod'
import {MODEL_CACHE_MODES} from '../model/exchange-cache.js'

/**
 * Everything a shadow run is started with. Stored with the run (runs.config_json) so that
 * `--resume <runId>` continues with exactly the same inputs, whatever flags it is given.
 */
export const ShadowOptions = z.object({
  traffic: z.string().min(1),
  candidate: z.string().min(1),
  /** `recorded` compares with what production did; otherwise a baseline bundle directory. */
  baseline: z.string().min(1).default('recorded'),
  /** `scripted`, `scripted:<name>`, `ollama:<name>`; null = each bundle's own model config. */
  model: z.string().nullable().default(null),
  ollama_host: z.string().nullable().default(null),
  concurrency: z.number().int().min(1).max(256).default(4),
  repeat: z.number().int().min(1).max(10).default(1),
  faults: z.string().nullable().default(null),
  seed: z.number().int().default(1),
  approver: z.enum(['approve', 'deny', 'pending']).default('pending'),
  fixtures: z.string().nullable().default(null),
  record_cassette: z.string().nullable().default(null),
  replay_cassette: z.string().nullable().default(null),
  run_name: z.string().nullable().default(null),
  /** Skill modules for the scripted model, in the order they are asked (docs/scripted-model.md). */
  skills: z.array(z.string().min(1)).default([]),
  /** Stop after this many requests (for smoke runs); null = the whole file. */
  limit: z.number().int().positive().nullable().default(null),
  /**
   * The model-call cache (src/model/exchange-cache.ts): `auto` reuses stored answers to requests at
   * temperature 0, `always` to every request, `off` to none. Only models whose calls cost something
   * (Ollama) are cached; every model's calls are counted.
   */
  model_cache: z.enum(MODEL_CACHE_MODES).default('auto'),
  /** Stop the run (failed) at the first traffic line it would skip, instead of skipping it. */
  strict: z.boolean().default(false),
  /**
   * `--shard i/N`: this run replays only the traffic lines of shard `index` of `count`
   * (src/shadow/shard.ts); `runs merge` joins the N shard runs into one. Null: the whole file.
   */
  shard: z
    .object({index: z.number().int().min(1), count: z.number().int().min(1)})
    .refine((s) => s.index <= s.count, {message: 'the shard index must not exceed the shard count'})
    .nullable()
    .default(null),
  /**
   * `approvals apply`: the run whose held calls people decided, and their decisions (the ones in
   * force when the run started, kept here so that `--resume` applies exactly those). Null otherwise.
   */
  approvals: z
    .object({
      source_run: z.string(),
      decisions: z.array(
        z.object({
          request_id: z.string(),
          seq: z.number().int().nonnegative(),
          tool: z.string(),
          args_hash: z.string(),
          decision: z.enum(['approved', 'rejected']),
          by: z.string(),
          at: z.string(),
          reason: z.string().nullable(),
        }),
      ),
    })
    .nullable()
    .default(null),
})
export type ShadowOptions = z.infer<typeof ShadowOptions>
export type ShadowOptionsInput = z.input<typeof ShadowOptions>
