/**
 * Small inline SVG charts for the HTML report: no library, no script, every label escaped.
 */

export function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'})[c]!)
}

export type Bar = {label: string; value: number; colour: string; text?: string}

/** Horizontal bars, one per item, scaled to the largest value. */
export function barChart(bars: Bar[], options: {width?: number; title: string}): string {
  const width = options.width ?? 520
  const labelW = 150
  const valueW = 96
  const rowH = 30
  const top = 8
  const height = top + bars.length * rowH + 4
  const max = Math.max(1e-9, ...bars.map((b) => b.value))
  const span = width - labelW - valueW
  const rows = bars
    .map((b, i) => {
      const y = top + i * rowH
      const w = b.value <= 0 ? 0 : Math.max(2, (b.value / max) * span)
      return (
        `<text x="${labelW - 10}" y="${y + 19}" text-anchor="end" class="lbl">${esc(b.label)}</text>` +
        `<rect x="${labelW}" y="${y + 5}" width="${span}" height="20" rx="4" class="track"/>` +
        `<rect x="${labelW}" y="${y + 5}" width="${w.toFixed(1)}" height="20" rx="4" fill="${esc(b.colour)}"/>` +
        `<text x="${(labelW + w + 8).toFixed(1)}" y="${y + 19}" class="val">${esc(b.text ?? String(b.value))}</text>`
      )
    })
    .join('')
  return `<svg role="img" aria-label="${esc(options.title)}" viewBox="0 0 ${width} ${height}" width="100%" class="chart">${rows}</svg>`
}

export type PairGroup = {label: string; base: number; cand: number; format: (n: number) => string}

/**
 * Base and candidate side by side for each group. Groups have different units, so each pair is
 * scaled to its own larger value: the chart compares within a group, never across.
 */
export function pairedBars(groups: PairGroup[], options: {width?: number; title: string; baseLabel: string; candLabel: string}): string {
  const width = options.width ?? 520
  const labelW = 150
  const valueW = 90
  const groupH = 58
  const legendH = 26
  const height = legendH + groups.length * groupH
  const span = width - labelW - valueW
  const legend =
    `<rect x="${labelW}" y="6" width="12" height="12" rx="2" class="base"/>` +
    `<text x="${labelW + 18}" y="16" class="lbl">${esc(options.baseLabel)}</text>` +
    `<rect x="${labelW + 150}" y="6" width="12" height="12" rx="2" class="cand"/>` +
    `<text x="${labelW + 168}" y="16" class="lbl">${esc(options.candLabel)}</text>`
  const rows = groups
    .map((g, i) => {
      const y = legendH + i * groupH
      const max = Math.max(1e-9, g.base, g.cand)
      const bar = (v: number, dy: number, cls: string): string => {
        const w = v <= 0 ? 0 : Math.max(2, (v / max) * span)
        return (
          `<rect x="${labelW}" y="${y + dy}" width="${w.toFixed(1)}" height="18" rx="3" class="${cls}"/>` +
          `<text x="${(labelW + w + 8).toFixed(1)}" y="${y + dy + 14}" class="val">${esc(g.format(v))}</text>`
        )
      }
      return `<text x="${labelW - 10}" y="${y + 27}" text-anchor="end" class="lbl">${esc(g.label)}</text>` + bar(g.base, 4, 'base') + bar(g.cand, 25, 'cand')
    })
    .join('')
  return `<svg role="img" aria-label="${esc(options.title)}" viewBox="0 0 ${width} ${height}" width="100%" class="chart">${legend}${rows}</svg>`
}

export type StackRow = {label: string; parts: {name: string; value: number; colour: string}[]; text?: string}

/**
 * One horizontal bar per row, split into its parts, each row scaled to its own total: the chart
 * compares shares (how a tenant's requests split into classes), never totals across rows. A part
 * keeps its name and count in a title, so hovering a segment says what it is.
 */
export function stackedBars(rows: StackRow[], options: {width?: number; title: string}): string {
  const width = options.width ?? 520
  const labelW = 150
  const valueW = 70
  const rowH = 26
  const top = 4
  const span = width - labelW - valueW
  const height = top + rows.length * rowH + 4
  const body = rows
    .map((r, i) => {
      const y = top + i * rowH
      const total = r.parts.reduce((n, p) => n + p.value, 0)
      let x = labelW
      const segs = r.parts
        .filter((p) => p.value > 0)
        .map((p) => {
          const w = total === 0 ? 0 : (p.value / total) * span
          const seg = `<rect x="${x.toFixed(1)}" y="${y + 4}" width="${w.toFixed(1)}" height="18" fill="${esc(p.colour)}"><title>${esc(`${p.name}: ${p.value}`)}</title></rect>`
          x += w
          return seg
        })
        .join('')
      return (
        `<text x="${labelW - 10}" y="${y + 18}" text-anchor="end" class="lbl">${esc(r.label)}</text>` +
        `<rect x="${labelW}" y="${y + 4}" width="${span}" height="18" class="track"/>` +
        segs +
        `<text x="${labelW + span + 8}" y="${y + 18}" class="val">${esc(r.text ?? String(total))}</text>`
      )
    })
    .join('')
  return `<svg role="img" aria-label="${esc(options.title)}" viewBox="0 0 ${width} ${height}" width="100%" class="chart">${body}</svg>`
}
