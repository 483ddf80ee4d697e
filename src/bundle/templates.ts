import path from 'node:path'

/** Variables a prompt template may use as `{{name}}`; the runtime fills exactly these. */
export const TEMPLATE_VARIABLES = ['tenant', 'user', 'role', 'date', 'tools'] as const

export type TemplateSlot = 'system' | 'plan'

export type TemplateVariableUse = {name: string; line: number}

/** Every `{{ name }}` in a template, with its 1-based line. */
export function templateVariables(text: string): TemplateVariableUse[] {
  const uses: TemplateVariableUse[] = []
  const lines = text.split(/\r?\n/)
  lines.forEach((line, i) => {
    for (const m of line.matchAll(/\{\{\s*([^{}]*?)\s*\}\}/g)) uses.push({name: m[1] ?? '', line: i + 1})
  })
  return uses
}

/** Problems (messages only; the caller adds file and field) for variables the runtime cannot fill. */
export function unknownTemplateVariables(templatePath: string, text: string): string[] {
  const known = new Set<string>(TEMPLATE_VARIABLES)
  return templateVariables(text)
    .filter((u) => !known.has(u.name))
    .map(
      (u) =>
        `unknown template variable {{${u.name}}} at ${templatePath}:${u.line} (known: ${TEMPLATE_VARIABLES.join(', ')})`,
    )
}

/**
 * Whether a template path written in the manifest points outside the bundle directory.
 * A bundle must be self-contained: its hash covers only files inside it.
 */
export function escapesBundleDir(bundleDir: string, templatePath: string): boolean {
  if (path.isAbsolute(templatePath)) return true
  return isOutside(bundleDir, path.resolve(bundleDir, templatePath))
}

export function isOutside(dir: string, target: string): boolean {
  const rel = path.relative(dir, target)
  return rel === '..' || rel.startsWith('..' + path.sep) || path.isAbsolute(rel)
}

/** The template path as the hash and the diff key it: forward slashes, no `./`. */
export function normaliseTemplatePath(templatePath: string): string {
  return path.posix.normalize(templatePath.replace(/\\/g, '/'))
}
