/**
 * Case statuses and the lifecycle table (DOMAIN.md §5). Status names, channel names and event kinds are
 * part of the CLI and export contract (README "Recovery cases").
 */
export const CASE_STATUSES = [
  'new', 'under_review', 'verified', 'false_positive', 'suspended', 'notice_sent', 'repayment_plan', 'recovered', 'written_off', 'escalated',
] as const;
export type CaseStatus = (typeof CASE_STATUSES)[number];

/** Final statuses: no transition leaves them; new overpayments after one of these open a follow-up case. */
export const FINAL_STATUSES: readonly CaseStatus[] = ['recovered', 'written_off'];

/**
 * The legal transitions (issue "Recovery queue"; DOMAIN.md §5 typical path). Anything not listed is refused.
 * `false_positive → under_review` reopens a case; `recovered` and `written_off` are final.
 */
export const TRANSITIONS: Readonly<Record<CaseStatus, readonly CaseStatus[]>> = Object.freeze({
  new: ['under_review', 'false_positive'],
  under_review: ['verified', 'false_positive'],
  verified: ['suspended', 'notice_sent'],
  suspended: ['notice_sent'],
  notice_sent: ['repayment_plan', 'recovered', 'escalated', 'written_off'],
  repayment_plan: ['recovered', 'escalated', 'written_off'],
  escalated: ['repayment_plan', 'recovered', 'written_off'],
  false_positive: ['under_review'],
  recovered: [],
  written_off: [],
});

/** Target statuses that need a second person's approval (`--approved-by`, never the actor). */
export const NEEDS_APPROVAL: readonly CaseStatus[] = ['false_positive', 'written_off'];

/**
 * Statuses in which a case whose outstanding amount reaches zero becomes `recovered` by an automatic
 * event: the overpayment has been verified and nothing final has been decided yet.
 */
export const AUTO_RECOVER_FROM: readonly CaseStatus[] = ['verified', 'suspended', 'notice_sent', 'repayment_plan', 'escalated'];

/** Open = neither final nor a false positive (the statuses a work list carries). */
export function isOpenStatus(s: string): boolean {
  return !FINAL_STATUSES.includes(s as CaseStatus) && s !== 'false_positive';
}

export function isCaseStatus(s: string): s is CaseStatus {
  return (CASE_STATUSES as readonly string[]).includes(s);
}

/** Channels money comes back through (DOMAIN.md §5). */
export const CHANNELS = ['bank_return', 'heir_repayment', 'offset'] as const;
export type Channel = (typeof CHANNELS)[number];

export function isChannel(s: string): s is Channel {
  return (CHANNELS as readonly string[]).includes(s);
}

/** Conduct that, with a large enough overpayment, makes a serious-dishonesty candidate (DOMAIN.md §5). */
export const CONDUCT_FLAGS = ['refused_to_repay', 'broke_agreement'] as const;
export type ConductFlag = (typeof CONDUCT_FLAGS)[number];

/** The actor name of automatic events (nightly job, automatic recovery). People may not use it. */
export const SYSTEM_ACTOR = 'fundguard';
