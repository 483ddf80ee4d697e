import path from 'node:path'

/** Variables a prompt template may use as `{{name}}`; the runtime fills exactly these. */
export const TEMPLATE_VARIABLES = ['tenant', 'user', 'role', 'date', 'tools'] as const

export type TemplateSlot = 'system' | 'plan'

export type TemplateVariableUse = {name: string; line: number}

/** Every `{{ name }}` in a template, with its 1-based line; section markers are not variables. */
export function templateVariables(text: string): TemplateVariableUse[] {
  const uses: TemplateVariableUse[] = []
  const lines = text.split(/\r?\n/)
  lines.forEach((line, i) => {
    for (const m of line.matchAll(/\{\{\s*([^{}]*?)\s*\}\}/g)) {
      const name = m[1] ?? ''
      if (!SECTION_MARKER_START.test(name)) uses.push({name, line: i + 1})
    }
  })
  return uses
}

// ---------------------------------------------------------------- named sections

/**
 * A prompt template may name sections that feature flags can remove per tenant:
 *
 *     {{#section refunds}}
 *     ...lines...
 *     {{/section refunds}}
 *
 * Each marker is alone on its line (surrounding blanks allowed), sections do not nest, and a name
 * appears once per template. Rendering drops the marker lines and, for a section flagged off, the
 * lines between them; a template without markers renders byte for byte as written, so bundles that
 * do not use sections keep their hash and their model requests.
 */
const SECTION_NAME = '[a-z0-9][a-z0-9_-]*'
const SECTION_MARKER_START = /^[#/]section\b/
const SECTION_OPEN = new RegExp(`^\\s*\\{\\{\\s*#section\\s+(${SECTION_NAME})\\s*\\}\\}\\s*$`)
const SECTION_CLOSE = new RegExp(`^\\s*\\{\\{\\s*/section\\s+(${SECTION_NAME})\\s*\\}\\}\\s*$`)
/** Any `{{#section…}}` / `{{/section…}}`, well formed or not: what the checks look for. */
const ANY_MARKER = /\{\{\s*[#/]section\b/

export type TemplateSection = {name: string; line: number}

/** The sections a template declares, and the problems of its markers (messages only; the caller adds file and field). */
export function templateSections(templatePath: string, text: string): {sections: TemplateSection[]; problems: string[]} {
  const sections: TemplateSection[] = []
  const problems: string[] = []
  if (!ANY_MARKER.test(text)) return {sections, problems}
  let open: TemplateSection | null = null
  const lines = text.split(/\r?\n/)
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    const at = `${templatePath}:${i + 1}`
    const o = SECTION_OPEN.exec(line)
    const c = o ? null : SECTION_CLOSE.exec(line)
    if (o) {
      const name = o[1]!
      if (open) problems.push(`section "${name}" at ${at} opens inside section "${open.name}" (sections do not nest)`)
      else if (sections.some((s) => s.name === name)) problems.push(`section "${name}" at ${at} is declared twice in this template`)
      else {
        open = {name, line: i + 1}
        sections.push(open)
      }
    } else if (c) {
      const name = c[1]!
      if (open === null) problems.push(`{{/section ${name}}} at ${at} closes no open section`)
      else if (open.name !== name) problems.push(`{{/section ${name}}} at ${at} closes section "${open.name}" (opened at line ${open.line})`)
      else open = null
    } else if (ANY_MARKER.test(line)) {
      problems.push(`malformed section marker at ${at}: write {{#section name}} or {{/section name}} alone on its line (name: lowercase letters, digits, _ or -)`)
    }
  }
  if (open !== null) problems.push(`section "${open.name}" opened at ${templatePath}:${open.line} is never closed ({{/section ${open.name}}})`)
  return {sections, problems}
}

/**
 * The template text with sections in `off` removed and every marker line dropped. Assumes markers
 * the checks accepted. Line ends are kept as written; text without markers is returned unchanged.
 */
export function withoutSections(text: string, off: ReadonlySet<string>): string {
  if (!ANY_MARKER.test(text)) return text
  let out = ''
  let skipping = false
  for (const line of text.split(/(?<=\n)/)) {
    const bare = line.replace(/\r?\n$/, '')
    const o = SECTION_OPEN.exec(bare)
    if (o) {
      skipping = off.has(o[1]!)
      continue
    }
    if (SECTION_CLOSE.test(bare)) {
      skipping = false
      continue
    }
    if (!skipping) out += line
  }
  return out
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
