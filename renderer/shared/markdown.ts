/**
 * Renders the small Markdown subset AUPs use (headings, paragraphs, bulleted and numbered lists,
 * **bold** and *emphasis*) straight into DOM nodes. Text is only ever set with textContent, so
 * nothing in a document can become markup or script.
 */
export function renderMarkdown(markdown: string, doc: Document = document): DocumentFragment {
  const fragment = doc.createDocumentFragment();
  const lines = markdown.replace(/\r\n?/g, '\n').split('\n');
  let paragraph: string[] = [];
  let list: HTMLOListElement | HTMLUListElement | null = null;

  const flushParagraph = () => {
    if (!paragraph.length) return;
    const p = doc.createElement('p');
    appendInline(p, paragraph.join(' '), doc);
    fragment.append(p);
    paragraph = [];
  };
  const closeList = () => {
    list = null;
  };

  for (const raw of lines) {
    const line = raw.trimEnd();
    const heading = /^(#{1,3})\s+(.*)$/.exec(line);
    const bullet = /^\s*[-*]\s+(.*)$/.exec(line);
    const numbered = /^\s*\d+[.)]\s+(.*)$/.exec(line);
    if (!line.trim()) {
      flushParagraph();
      closeList();
    } else if (heading) {
      flushParagraph();
      closeList();
      // The page title is the h1; document headings start at h2.
      const h = doc.createElement(`h${Math.min(heading[1]!.length + 1, 4)}` as 'h2');
      appendInline(h, heading[2]!, doc);
      fragment.append(h);
    } else if (bullet || numbered) {
      flushParagraph();
      const wanted = bullet ? 'UL' : 'OL';
      if (!list || list.tagName !== wanted) {
        list = doc.createElement(bullet ? 'ul' : 'ol');
        fragment.append(list);
      }
      const li = doc.createElement('li');
      appendInline(li, (bullet ?? numbered)![1]!, doc);
      list.append(li);
    } else {
      closeList();
      paragraph.push(line.trim());
    }
  }
  flushParagraph();
  return fragment;
}

function appendInline(parent: HTMLElement, text: string, doc: Document): void {
  // **strong** first, then *em*, splitting into text runs.
  const pattern = /\*\*(.+?)\*\*|\*(.+?)\*/g;
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    if (match.index! > last) parent.append(doc.createTextNode(text.slice(last, match.index)));
    const el = doc.createElement(match[1] !== undefined ? 'strong' : 'em');
    el.textContent = match[1] ?? match[2]!;
    parent.append(el);
    last = match.index! + match[0].length;
  }
  if (last < text.length) parent.append(doc.createTextNode(text.slice(last)));
}
