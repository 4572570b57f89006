import type { Page } from 'playwright-core';

export interface ContrastFailure {
  text: string;
  color: string;
  background: string;
  ratio: number;
  needed: number;
}

/**
 * WCAG 2 contrast of every visible piece of text on the page: the text colour against the first
 * opaque background behind it (walking up the tree). Normal text needs 4.5:1, large text
 * (24 px, or 18.66 px bold) 3:1. Returns the failures and how many text elements were checked.
 */
export async function checkContrast(page: Page): Promise<{ checked: number; failures: ContrastFailure[] }> {
  return page.evaluate(() => {
    const parse = (c: string): number[] => (c.match(/[\d.]+/g) ?? []).map(Number);
    const channel = (v: number) => {
      const s = v / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    };
    const luminance = ([r, g, b]: number[]) => 0.2126 * channel(r!) + 0.7152 * channel(g!) + 0.0722 * channel(b!);
    const backgroundOf = (start: Element): string => {
      for (let node: Element | null = start; node; node = node.parentElement) {
        const bg = getComputedStyle(node).backgroundColor;
        const alpha = parse(bg)[3];
        if (bg !== 'transparent' && (alpha === undefined || alpha > 0.5)) return bg;
      }
      return 'rgb(255, 255, 255)';
    };
    const failures: { text: string; color: string; background: string; ratio: number; needed: number }[] = [];
    let checked = 0;
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const seen = new Set<Element>();
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const element = node.parentElement;
      if (!element || seen.has(element) || !node.textContent?.trim()) continue;
      seen.add(element);
      const rect = element.getBoundingClientRect();
      const style = getComputedStyle(element);
      if (rect.width === 0 || rect.height === 0 || style.visibility === 'hidden' || element.closest('[hidden], .visually-hidden')) continue;
      checked++;
      const fg = parse(style.color);
      const bg = parse(backgroundOf(element));
      const [l1, l2] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
      const ratio = (l1! + 0.05) / (l2! + 0.05);
      const size = parseFloat(style.fontSize);
      const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
      const needed = large ? 3 : 4.5;
      if (ratio < needed)
        failures.push({
          text: node.textContent.trim().slice(0, 40),
          color: style.color,
          background: backgroundOf(element),
          ratio: Math.round(ratio * 100) / 100,
          needed,
        });
    }
    return { checked, failures };
  });
}
