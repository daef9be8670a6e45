/**
 * The one shape every reader (CSV, XLSX) yields (ARCHITECTURE.md "Readers yield { line, cells }"): row
 * parsers and the layout logic never know which format a row came from.
 */

/** Where an XLSX row sits in its workbook, for messages. */
export interface SheetPosition {
  /** 1-based ordinal of the worksheet in the order the workbook stores its sheets (sheet1.xml, sheet2.xml, …). */
  index: number;
  /** The sheet's tab name (empty when the workbook does not name it). */
  name: string;
  /** The row number inside the sheet (1-based, as Excel shows it). */
  row: number;
}

/** One record of an extract: its line, the cell texts, and the raw text for rejects. */
export interface SourceRow {
  /**
   * 1-based line of the record: the first physical line for CSV; for XLSX the sheet row number, plus the
   * last row number of every earlier sheet (as if the sheets were stacked), so it is unique in the file.
   */
  line: number;
  /** Cell texts, left to right (an XLSX row is padded with '' up to its last non-empty cell). */
  cells: string[];
  /** The record as read (CSV) or its cells joined by commas, CSV-quoted where needed (XLSX). Never masked here. */
  raw: string;
  /** Set when the record could not be parsed as CSV (then `cells` is empty). */
  error?: { code: string; reason: string };
  /**
   * XLSX only: 0-based indexes of the cells that were stored as numbers. Their text is the shortest decimal
   * that reads back as the same double, so an identifier stored as a number with more than 15 digits (the
   * spreadsheet keeps 15 significant digits) is recognisably damaged — row parsers reject it
   * (`ID_PRECISION_LOST`, …) rather than use it.
   */
  numericCells?: ReadonlySet<number>;
  /** XLSX only: the sheet and row the record came from. */
  sheet?: SheetPosition;
}
