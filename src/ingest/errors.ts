/**
 * The one error class of ingest (STYLE.md §6): a stable code, the file and, where it applies, the line.
 * Messages never carry a full resident ID (they reach logs and reports).
 */
import { maskIdsInText } from '../identity/resident-id.ts';

/** Whole-file reject codes (row codes are listed in README "Reject codes"). */
export type FileErrorCode = 'ENCODING_INVALID' | 'HEADER_NOT_FOUND' | 'FILE_UNREADABLE' | 'FORMAT_UNSUPPORTED' | 'CSV_MALFORMED';

export class IngestError extends Error {
  override name = 'IngestError';
  constructor(
    readonly code: FileErrorCode | string,
    message: string,
    readonly file: string,
    readonly line?: number,
  ) {
    super(maskIdsInText(message));
  }
}
