import type {BundleManifest, PolicyRule} from '../bundle/schema.js'
import {ValidationError} from '../errors.js'

/**
 * Incident playbook variants of a bundle: pure manifest-to-manifest transforms. Each changes only
 * what its name says and marks the version (`+killswitch`, `+read-only`, `+draft-only`) so the
 * variant's ref can never be mistaken for the bundle it came from.
 */

export type DegradeMode = 'read_only' | 'draft_only'
export const DEGRADE_MODES: readonly DegradeMode[] = ['read_only', 'draft_only']

export const DRAFT_ONLY_RULE_ID = 'incident-draft-only'
export const DRAFT_ONLY_REASON = 'DEGRADED_DRAFT_ONLY'

/** Adds a build tag to a version once: `1.4.0` → `1.4.0+killswitch`, `1.4.0+a` → `1.4.0+a.killswitch`. */
export function tagVersion(version: string, tag: string): string {
  const build = version.includes('+') ? version.slice(version.indexOf('+') + 1).split('.') : []
  if (build.includes(tag)) return version
  return version.includes('+') ? `${version}.${tag}` : `${version}+${tag}`
}

function note(manifest: BundleManifest, what: string): string {
  return manifest.description ? `${manifest.description} [incident: ${what}]` : `[incident: ${what}]`
}

/** Every named tool `enabled: false`. An unknown name is an error naming the known ones. */
export function killSwitch(manifest: BundleManifest, tools: readonly string[], source = 'bundle'): BundleManifest {
  if (tools.length === 0) throw new ValidationError([`${source}: kill-switch needs at least one tool name`])
  const known = new Set(manifest.tools.map((t) => t.name))
  const unknown = tools.filter((t) => !known.has(t))
  if (unknown.length > 0) {
    throw new ValidationError([
      `${source}: no tool ${unknown.map((t) => `"${t}"`).join(', ')} in ${manifest.name}@${manifest.version} (tools: ${[...known].join(', ')})`,
    ])
  }
  const off = new Set(tools)
  return {
    ...manifest,
    version: tagVersion(manifest.version, 'killswitch'),
    description: note(manifest, `kill-switch ${[...off].join(', ')}`),
    tools: manifest.tools.map((t) => (off.has(t.name) ? {...t, enabled: false} : t)),
  }
}

/**
 * `read_only`: every write tool disabled (reads keep working). `draft_only`: every write needs
 * approval (rule `incident-draft-only`, reason DEGRADED_DRAFT_ONLY), so with no approver nothing is
 * executed, while the model still drafts the action and the trace shows what it would have done.
 */
export function degrade(manifest: BundleManifest, mode: DegradeMode): BundleManifest {
  if (mode === 'read_only') {
    return {
      ...manifest,
      version: tagVersion(manifest.version, 'read-only'),
      description: note(manifest, 'degraded to read-only'),
      tools: manifest.tools.map((t) => (t.risk === 'read' ? t : {...t, enabled: false})),
    }
  }
  const rule: PolicyRule = {
    id: DRAFT_ONLY_RULE_ID,
    description: 'Incident: every write needs approval, so nothing is executed without a human.',
    effect: 'require_approval',
    reason: DRAFT_ONLY_REASON,
    risk: ['write_low', 'write_high'],
    when: [],
  }
  return {
    ...manifest,
    version: tagVersion(manifest.version, 'draft-only'),
    description: note(manifest, 'degraded to draft-only'),
    policies: [...manifest.policies.filter((p) => p.id !== DRAFT_ONLY_RULE_ID), rule],
  }
}

/** What degrading does to the bundle's write tools: disabled by read_only, held for approval by draft_only. */
export function degradedTools(manifest: BundleManifest, mode: DegradeMode): {disabled: string[]; approval_required: string[]} {
  const writes = manifest.tools.filter((t) => t.risk !== 'read').map((t) => t.name)
  return {disabled: mode === 'read_only' ? writes : [], approval_required: mode === 'draft_only' ? writes : []}
}
