/**
 * Case statuses (DOMAIN.md §5). These names are part of the CLI and export contract.
 */
export const CASE_STATUSES = [
  'new', 'under_review', 'verified', 'false_positive', 'suspended', 'notice_sent', 'repayment_plan', 'recovered', 'written_off', 'escalated',
] as const;
export type CaseStatus = (typeof CASE_STATUSES)[number];

/** Final statuses: new overpayments after one of these open a follow-up case. */
export const FINAL_STATUSES: readonly CaseStatus[] = ['recovered', 'written_off'];
