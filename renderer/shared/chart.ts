/**
 * A small stacked bar: one segment per part, widths by share (CSSOM writes: the strict CSP
 * allows them where it forbids style attributes). It is decoration for sighted readers: the
 * caller writes the same numbers as text next to it, and the bar is aria-hidden.
 */
export interface ChartPart {
  label: string;
  value: number;
  /** CSS class giving the segment its colour (see .stacked .seg-* in the dashboard's sheet). */
  kind: string;
}

export function drawStacked(container: HTMLElement, parts: readonly ChartPart[]): void {
  const total = parts.reduce((sum, p) => sum + p.value, 0);
  container.setAttribute('aria-hidden', 'true');
  container.hidden = total === 0;
  container.replaceChildren(
    ...parts
      .filter((p) => p.value > 0)
      .map((p) => {
        const seg = document.createElement('span');
        seg.className = `seg seg-${p.kind}`;
        seg.style.width = `${(p.value / total) * 100}%`;
        seg.title = `${p.label}: ${p.value}`;
        return seg;
      }),
  );
}
