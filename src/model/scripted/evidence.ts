import type {EvidenceDoc} from './conversation.js'

/** The most trusted of the documents `usable` accepts (trusted, then internal, then the rest), or null. */
export function mostTrusted(docs: readonly EvidenceDoc[], usable: (doc: EvidenceDoc) => boolean): EvidenceDoc | null {
  const rank = (t: string) => (t === 'trusted' ? 0 : t === 'internal' ? 1 : 2)
  const clean = docs.filter(usable)
  if (clean.length === 0) return null
  return [...clean].sort((a, b) => rank(a.trust) - rank(b.trust))[0] ?? null
}

/** The first sentence of `text` (10 to 300 characters), else its first 300 characters. */
export function firstSentence(text: string): string {
  const trimmed = text.trim().replace(/\s+/g, ' ')
  const m = /^(.{10,300}?[.!?])(?:\s|$)/.exec(trimmed)
  return m?.[1] ?? trimmed.slice(0, 300)
}
