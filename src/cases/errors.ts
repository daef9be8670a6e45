/**
 * The one error class of the recovery queue (STYLE.md §6): a stable code, the case concerned and a message
 * that says what was refused and what to do instead. Messages never carry resident IDs.
 */
export type CaseErrorCode =
  /** No case with this id. */
  | 'CASE_NOT_FOUND'
  /** The lifecycle table does not allow this change of status. */
  | 'ILLEGAL_TRANSITION'
  /** false_positive / written_off without `--approved-by`. */
  | 'APPROVAL_REQUIRED'
  /** The approver is the actor. */
  | 'SAME_APPROVER'
  /** `recovered` while money is still outstanding. */
  | 'OUTSTANDING'
  /** Not a positive amount of yuan with at most two decimals, or more than can be refunded. */
  | 'BAD_AMOUNT'
  /** Not a real date `YYYY-MM-DD`, in the future, or before the overpayment. */
  | 'BAD_DATE'
  | 'BAD_CHANNEL'
  | 'BAD_STATUS'
  /** Empty or reserved name for `--by`, `--to`, `--approved-by`; empty reason. */
  | 'BAD_ACTOR'
  | 'BAD_REASON'
  /** The same repayment (amount, channel, date) is already in the ledger of this case. */
  | 'DUPLICATE_REPAYMENT'
  /** Repayment on a false positive, void of an unknown or already voided entry, etc. */
  | 'NOT_ALLOWED'
  /** The case changed while this change was being made (another investigator or the nightly job). */
  | 'CONCURRENT_CHANGE';

export class CaseError extends Error {
  override name = 'CaseError';
  constructor(
    readonly code: CaseErrorCode,
    message: string,
    readonly caseId?: number,
  ) {
    super(message);
  }
}
