import {readFileSync} from 'node:fs'
import path from 'node:path'
import {parse as parseYaml} from 'yaml'
import {type ArgSchema, BundleManifest, type ToolContract} from '../../../src/bundle/schema.js'
import type {ToolSpec} from '../../../src/model/types.js'
import {type CompiledPolicy, compilePolicy} from '../../../src/policy/engine.js'

/** A bundle as the production simulator needs it: manifest, templates, tool specs, compiled policy. */
export type SimBundle = {
  ref: string
  manifest: BundleManifest
  system: string
  plan: string | null
  tools: Map<string, ToolContract>
  specs: ToolSpec[]
  policy: CompiledPolicy
}

/** The keywords of a standard JSON Schema this simulator checks (the bundles use no others). */
type SimSchema = {
  type?: string
  enum?: unknown[]
  maxLength?: number
  minLength?: number
  pattern?: string
  format?: string
  minimum?: number
  maximum?: number
  properties?: Record<string, SimSchema>
  required?: string[]
  additionalProperties?: boolean
  items?: SimSchema
  maxItems?: number
}

export function toolSpec(tool: ToolContract): ToolSpec {
  return {type: 'function', function: {name: tool.name, description: tool.description, parameters: tool.args}}
}

export function loadSimBundle(dir: string): SimBundle {
  const manifest = BundleManifest.parse(parseYaml(readFileSync(path.join(dir, 'bundle.yaml'), 'utf8')))
  const enabled = manifest.tools.filter((t) => t.enabled)
  return {
    ref: `${manifest.name}@${manifest.version}`,
    manifest,
    system: readFileSync(path.join(dir, manifest.prompts.system), 'utf8'),
    plan: manifest.prompts.plan ? readFileSync(path.join(dir, manifest.prompts.plan), 'utf8') : null,
    tools: new Map(enabled.map((t) => [t.name, t])),
    specs: enabled.map(toolSpec),
    policy: compilePolicy(manifest.policies, manifest.policy_default),
  }
}

/** The first way `args` breaks `schema`, as `field: problem`, or null when they fit. */
export function argsProblem(args: ArgSchema, value: unknown, at = 'args'): string | null {
  const schema = args as SimSchema
  switch (schema.type) {
    case 'object': {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return `${at}: expected an object`
      const obj = value as Record<string, unknown>
      for (const name of schema.required ?? []) if (obj[name] === undefined) return `${at}.${name}: required`
      for (const [k, v] of Object.entries(obj)) {
        const child = schema.properties?.[k]
        if (!child) {
          if (schema.additionalProperties === false) return `${at}.${k}: not allowed`
          continue
        }
        const p = argsProblem(child as ArgSchema, v, `${at}.${k}`)
        if (p) return p
      }
      return null
    }
    case 'string': {
      if (typeof value !== 'string') return `${at}: expected a string`
      if (schema.enum && !schema.enum.includes(value)) return `${at}: must be one of ${schema.enum.join(', ')}`
      if (schema.maxLength !== undefined && value.length > schema.maxLength) return `${at}: longer than ${schema.maxLength}`
      if (schema.minLength !== undefined && value.length < schema.minLength) return `${at}: shorter than ${schema.minLength}`
      if (schema.pattern && !new RegExp(schema.pattern).test(value)) return `${at}: does not match ${schema.pattern}`
      if (schema.format === 'email' && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(value)) return `${at}: not an email address`
      return null
    }
    case 'number':
    case 'integer': {
      if (typeof value !== 'number' || !Number.isFinite(value)) return `${at}: expected a number`
      if (schema.type === 'integer' && !Number.isInteger(value)) return `${at}: expected an integer`
      if (schema.enum && !schema.enum.includes(value)) return `${at}: must be one of ${schema.enum.join(', ')}`
      if (schema.minimum !== undefined && value < schema.minimum) return `${at}: below minimum ${schema.minimum}`
      if (schema.maximum !== undefined && value > schema.maximum) return `${at}: above maximum ${schema.maximum}`
      return null
    }
    case 'boolean':
      return typeof value === 'boolean' ? null : `${at}: expected a boolean`
    case 'array': {
      if (!Array.isArray(value)) return `${at}: expected an array`
      if (schema.maxItems !== undefined && value.length > schema.maxItems) return `${at}: more than ${schema.maxItems} items`
      if (schema.items) {
        for (let i = 0; i < value.length; i++) {
          const p = argsProblem(schema.items as ArgSchema, value[i], `${at}.${i}`)
          if (p) return p
        }
      }
      return null
    }
    default:
      return null
  }
}
