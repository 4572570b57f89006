/**
 * A table too wide for the screen scrolls sideways inside its `.table-scroll` box. Keyboard users
 * must be able to scroll it, so the box takes a Tab stop, but only while it actually scrolls:
 * at desktop widths it is no extra stop. (axe-core: scrollable-region-focusable.)
 */
export function watchScrollRegions(root: ParentNode = document): void {
  const update = (box: HTMLElement) => {
    if (box.scrollWidth > box.clientWidth) box.tabIndex = 0;
    else box.removeAttribute('tabindex');
  };
  const observer = new ResizeObserver((entries) => {
    for (const entry of entries) {
      const box = (entry.target as HTMLElement).closest<HTMLElement>('.table-scroll');
      if (box) update(box);
    }
  });
  for (const box of root.querySelectorAll<HTMLElement>('.table-scroll')) {
    observer.observe(box);
    const table = box.querySelector('table');
    if (table) observer.observe(table);
    update(box);
  }
}
