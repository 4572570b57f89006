/**
 * CSV for spreadsheets (RFC 4180, CRLF). Every cell is quoted, so a ";" cannot start a new cell
 * where a spreadsheet splits on semicolons, and cells a spreadsheet would run as a formula are
 * defused with a leading apostrophe on the way out (removed again on the way in).
 */
const FORMULA_START = /^[=+\-@\t\r]/;

export function csvCell(value: string | number | boolean): string {
  let text = String(value);
  if (FORMULA_START.test(text)) text = `'${text}`;
  return `"${text.replace(/"/g, '""')}"`;
}

export function csvRows(header: readonly string[], rows: readonly (readonly (string | number | boolean)[])[]): string {
  return [header.map(csvCell).join(','), ...rows.map((row) => row.map(csvCell).join(','))].join('\r\n') + '\r\n';
}

export class CsvError extends Error {
  constructor(
    readonly detail: string,
    readonly line: number,
  ) {
    super(`line ${line}: ${detail}`);
  }
}

/** Records with the line each starts on (a quoted cell may span lines). Blank lines are skipped. */
export function parseCsv(text: string): { line: number; cells: string[] }[] {
  const records: { line: number; cells: string[] }[] = [];
  let line = 1;
  let i = text.startsWith('\uFEFF') ? 1 : 0;
  while (i < text.length) {
    const start = line;
    const cells: string[] = [];
    for (;;) {
      let cell = '';
      if (text[i] === '"') {
        i++;
        for (;;) {
          if (i >= text.length) throw new CsvError('a quoted cell is never closed', start);
          const c = text[i]!;
          if (c === '"' && text[i + 1] === '"') [cell, i] = [cell + '"', i + 2];
          else if (c === '"') {
            i++;
            break;
          } else {
            if (c === '\n') line++;
            [cell, i] = [cell + c, i + 1];
          }
        }
        if (i < text.length && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') throw new CsvError('text after a closing quote', line);
      } else {
        while (i < text.length && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') {
          if (text[i] === '"') throw new CsvError('a quote inside an unquoted cell (quote the whole cell and double the quote)', line);
          cell += text[i++];
        }
      }
      cells.push(cell.startsWith("'") && FORMULA_START.test(cell.slice(1)) ? cell.slice(1) : cell);
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === '\r') i++;
      if (text[i] === '\n') i++;
      line++;
      break;
    }
    if (!(cells.length === 1 && cells[0] === '')) records.push({ line: start, cells });
  }
  return records;
}
