/**
 * Deterministic streaming XLSX writer for the generator: one worksheet written row by row with exceljs's
 * streaming `WorkbookWriter`, with a shared-string table and cell styles for date formats, as Excel stores a
 * workbook. Rows are streamed; the shared-string table (every distinct text: IDs, names, accounts) stays in
 * memory until the workbook is closed — about 100 bytes a string.
 *
 * Two things would otherwise make the bytes depend on the clock: the workbook's created/modified
 * properties (docProps/core.xml) and the modification time archiver stamps on every zip entry (it takes
 * "now" when none is given). Both are pinned to a date derived from the generator's options. Entry times are
 * written in UTC (archiver's default), cell dates are serials computed from UTC milliseconds — nothing
 * depends on the time zone. The deflated bytes are those of the zlib build of the running Node
 * (`process.versions.zlib`): the same for every machine running that build.
 */
import { createRequire } from 'node:module';
import ExcelJS from 'exceljs';

const require = createRequire(import.meta.url);

/** archiver's core class (the one exceljs instantiates), resolved from exceljs's own location. */
interface ArchiverProto {
  append(source: unknown, data: Record<string, unknown>): unknown;
}
const archiverCore = createRequire(require.resolve('exceljs'))('archiver/lib/core') as { prototype: ArchiverProto };

/** A cell value: text, a number, a date (written as an Excel date), or nothing. */
export type XlsxCell = string | number | Date | null;

/** A cell style: the number format of a column that holds dates (or months). */
export interface XlsxDateColumn {
  /** 1-based column. */
  col: number;
  /** Excel number format, e.g. `yyyy-mm-dd` or `yyyy"年"m"月"d"日"`. */
  numFmt: string;
}

export class XlsxSheetWriter {
  private readonly wb: ExcelJS.stream.xlsx.WorkbookWriter;
  private readonly ws: ExcelJS.Worksheet;
  /** Rows written so far (= the sheet row number of the last row). */
  rows = 0;

  /**
   * @param file path of the `.xlsx` to write
   * @param pinned the date stamped on the workbook properties and every zip entry (an instant, UTC)
   * @param sheetName tab name
   */
  constructor(file: string, pinned: Date, sheetName: string) {
    const proto = archiverCore.prototype;
    const append = proto.append;
    const pinnedAppend = function (this: unknown, source: unknown, data: Record<string, unknown>): unknown {
      return append.call(this, source, { ...data, date: pinned });
    };
    // The constructor appends its first entries (theme, relations) at once: pin them too. Synchronous, so
    // nothing else runs while the prototype is patched.
    proto.append = pinnedAppend;
    try {
      this.wb = new ExcelJS.stream.xlsx.WorkbookWriter({
        filename: file,
        useStyles: true,
        useSharedStrings: true,
        created: pinned,
        modified: pinned,
        creator: 'fundguard sample-data generator',
        lastModifiedBy: 'fundguard sample-data generator',
      } as ConstructorParameters<typeof ExcelJS.stream.xlsx.WorkbookWriter>[0]);
    } finally {
      proto.append = append;
    }
    (this.wb as unknown as { zip: ArchiverProto }).zip.append = pinnedAppend;
    this.ws = this.wb.addWorksheet(sheetName);
  }

  /** Appends one row; `dates` give the number format of the date cells. Empty cells are `null`. */
  row(values: readonly XlsxCell[], dates: readonly XlsxDateColumn[] = []): void {
    const row = this.ws.addRow(values as unknown[]);
    for (const d of dates) if (values[d.col - 1] instanceof Date) row.getCell(d.col).numFmt = d.numFmt;
    row.commit();
    this.rows++;
  }

  /** Lets the zip stream consume what was written (call between batches of rows). */
  async drain(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  /** Finishes the sheet and the workbook; resolves when the file is written. */
  async close(): Promise<void> {
    this.ws.commit();
    await this.wb.commit();
  }
}
