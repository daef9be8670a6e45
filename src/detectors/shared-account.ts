/**
 * Detector `shared_account`: one bank account receiving benefits for several different people (一卡多人).
 *
 * Rule (DOMAIN.md §4 "Never stop a payment on a match alone"; the "same account, different payees" test of
 * audit tools such as CaseWare IDEA and ACL): an account into which positive payments for `minPersons` or
 * more distinct resident IDs are made for the same period. A family may legitimately share one account (two
 * spouses stay below the default of 3); an intermediary collecting several people's pensions, or the
 * benefits of dead relatives, may not. Nothing is known to be overpaid, so this is a lead, not a claim.
 * - Every payment takes part, claimed or not: the signal is the account, not any one payment's money.
 * - Accounts are compared as stored (spaces and hyphens removed at ingest); empty accounts are ignored.
 *
 * Parameters (`detectors.shared_account`): `minPersons` (default 3).
 *
 * Case key: the account — ONE case per account, whose periods are every period in which the account had
 * `minPersons` or more people (new periods update the same case). Export columns, since several people are
 * involved: `id_number` / `name` are the likeliest account holder — the person paid into the account in the
 * most distinct periods over all stored payments, ties to the byte-wise smallest ID; `district_code` is the
 * latest payment's into the account in a flagged period; `scheme` every scheme paid into it in flagged
 * periods. Every person, with their IDs, names, schemes and amounts per flagged period, is in the evidence.
 *
 * Confidence: `review`; amount 0 until an investigator establishes one; paymentIds empty (it counts no
 * money, so it claims nothing — the payments are listed in the evidence).
 *
 * Scale: one GROUP BY (account, period HAVING count(DISTINCT id) ≥ minPersons) as the subquery that picks
 * the accounts; only their payments are read back, and the flagged periods are recounted from them.
 *
 * Incremental (./scope.ts): an account's finding depends on its own payments only (claims play no part). It
 * is recomputed from all its payments when a period no earlier row is in flags it (the same GROUP BY over the
 * new rows alone), when it has a new row in an older period, or when it had a finding and has any new row;
 * an account without a finding whose new rows flag nothing still has none, so every other previous finding
 * is carried forward. Reading the recomputed accounts' payments is one scan of the payments (there is no
 * index on the account: it costs more at ingest than it saves here, see migration 0005).
 */
import { formatFen } from '../calendar/values.ts';
import { maskAccount } from '../identity/resident-id.ts';
import { fullestName } from '../matching/names.ts';
import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.ts';
import type { Detector, DetectorContext, Finding } from './types.ts';
import { chunksOf, type DetectorIncremental } from './scope.ts';
import { byteCmp, countPayments, districtOf, monthRanges, periodRange, PAYMENT_COLUMNS, pushTo, sortedDistinct, toPaymentRow, type PaymentRow } from './shared.ts';

/** One person paid into a shared account (evidence). */
export interface AccountPerson {
  id_number: string;
  name: string;
  schemes: string[];
  /** Distinct periods of all this person's positive payments into the account. */
  periods_paid: number;
  /** Net fen paid into the account for this person, per flagged period. */
  flagged: Record<string, number>;
}

/**
 * The periods in which `minPersons` or more distinct IDs had a positive payment into the account, sorted.
 * Pure (the same rule as the detector's GROUP BY).
 */
export function flaggedPeriods(rows: readonly PaymentRow[], minPersons: number): string[] {
  const ids = new Map<string, Set<string>>();
  for (const r of rows) {
    if (r.amount_fen <= 0) continue;
    const s = ids.get(r.period) ?? new Set<string>();
    s.add(r.id_number);
    ids.set(r.period, s);
  }
  return [...ids.entries()].filter(([, s]) => s.size >= minPersons).map(([p]) => p).sort(byteCmp);
}

/**
 * The finding for one account from all its payments, given the periods with `minPersons` or more
 * people. Pure. Returns null when no flagged period has payments.
 */
export function sharedAccountFinding(account: string, rows: readonly PaymentRow[], flaggedPeriods: readonly string[]): Finding | null {
  const flaggedSet = new Set(flaggedPeriods);
  const inFlagged = rows.filter((r) => flaggedSet.has(r.period));
  if (inFlagged.length === 0) return null;
  const people = new Map<string, { rows: PaymentRow[]; paidPeriods: Set<string> }>();
  for (const r of rows) {
    const p = people.get(r.id_number) ?? { rows: [], paidPeriods: new Set<string>() };
    p.rows.push(r);
    if (r.amount_fen > 0) p.paidPeriods.add(r.period);
    people.set(r.id_number, p);
  }
  const persons: AccountPerson[] = [];
  for (const [id, p] of people) {
    const flaggedRows = p.rows.filter((r) => flaggedSet.has(r.period));
    if (flaggedRows.length === 0) continue;
    const flagged: Record<string, number> = {};
    for (const r of flaggedRows.sort((a, b) => byteCmp(a.period, b.period))) flagged[r.period] = (flagged[r.period] ?? 0) + r.amount_fen;
    const names = sortedDistinct(p.rows.map((r) => r.name));
    persons.push({ id_number: id, name: fullestName(names[0]!, names), schemes: sortedDistinct(flaggedRows.map((r) => r.scheme)), periods_paid: p.paidPeriods.size, flagged });
  }
  persons.sort((a, b) => byteCmp(a.id_number, b.id_number));
  const holder = [...persons].sort((a, b) => b.periods_paid - a.periods_paid || byteCmp(a.id_number, b.id_number))[0]!;
  const perPeriod = flaggedPeriods.map((period) => ({
    period,
    persons: persons.filter((p) => p.flagged[period] !== undefined).length,
    amount_fen: inFlagged.filter((r) => r.period === period).reduce((s, r) => s + r.amount_fen, 0),
  }));
  const maxPersons = Math.max(...perPeriod.map((x) => x.persons));
  const totalFen = perPeriod.reduce((s, x) => s + x.amount_fen, 0);
  const banks = sortedDistinct(rows.map((r) => r.bank).filter((b): b is string => !!b));
  const why =
    `account ${maskAccount(account)}${banks.length ? ` (${banks.join(', ')})` : ''} received benefits for ${persons.length} people ` +
    `(up to ${maxPersons} in one period) in ${flaggedPeriods.length} period(s) ${monthRanges(flaggedPeriods)}: ${persons.map((p) => p.name).join(', ')}; ` +
    `¥${formatFen(totalFen)} paid into it for those periods; likeliest holder ${holder.name} (paid into it in ${holder.periods_paid} period(s))`;
  return {
    detector: 'shared_account',
    caseKey: account,
    idNumber: holder.id_number,
    name: holder.name,
    districtCode: districtOf(inFlagged),
    schemes: sortedDistinct(inFlagged.map((r) => r.scheme)),
    periods: [...flaggedPeriods],
    amountFen: 0,
    confidence: 'review',
    evidence: {
      why,
      comparisons: [
        { field: 'account', level: 'shared', values: [account] },
        { field: 'persons', level: String(persons.length), values: persons.map((p) => p.id_number) },
        { field: 'periods', level: 'flagged', values: [...flaggedPeriods] },
      ],
      account,
      banks,
      holder: { id_number: holder.id_number, name: holder.name, rule: 'most distinct periods paid into the account, then smallest ID' },
      persons,
      periods: perPeriod,
      flagged_range: periodRange(flaggedPeriods),
      payments: inFlagged.map((r) => ({ payment: r.id, id_number: r.id_number, scheme: r.scheme, item: r.item, period: r.period, amount_fen: r.amount_fen, batch: r.batch, file: r.file, line: r.line })),
    },
    paymentIds: [],
  };
}

/** Accounts with minPersons or more people in some period, optionally among the new rows of fresh periods only. */
function flaggedAccountsQuery(db: Kysely<DB>, minPersons: number, fresh?: { sinceId: number; periods: string[] }) {
  return db
    .selectFrom('payment')
    .select('account')
    .distinct()
    .where('account', 'is not', null)
    .where('account', '<>', '')
    .where('amount_fen', '>', 0)
    .$if(!!fresh, (q) => q.where('id', '>', fresh!.sinceId).where('period', 'in', fresh!.periods))
    .groupBy(['account', 'period'])
    .having((eb) => eb.fn.count('id_number').distinct(), '>=', minPersons);
}

/** The findings of accounts from all their payments (rows ordered by account, then id). */
function accountFindings(rows: readonly PaymentRow[], minPersons: number): Finding[] {
  const byAccount = new Map<string, PaymentRow[]>();
  for (const r of rows) pushTo(byAccount, r.account!, r);
  const out: Finding[] = [];
  for (const account of [...byAccount.keys()].sort(byteCmp)) {
    const accountRows = byAccount.get(account)!;
    const f = sharedAccountFinding(account, accountRows, flaggedPeriods(accountRows, minPersons));
    if (f) out.push(f);
  }
  return out;
}

async function incrementalFindings(db: Kysely<DB>, inc: DetectorIncremental, minPersons: number): Promise<Finding[]> {
  const accounts = new Set<string>();
  if (inc.freshPeriods.size > 0) {
    for (const r of await flaggedAccountsQuery(db, minPersons, { sinceId: inc.sinceId, periods: [...inc.freshPeriods] }).execute()) accounts.add(r.account!);
  }
  if (inc.oldPeriods.length > 0) {
    const rows = await db.selectFrom('payment').select('account').distinct().where('id', '>', inc.sinceId).where('period', 'in', [...inc.oldPeriods]).where('account', 'is not', null).where('account', '<>', '').execute();
    for (const r of rows) accounts.add(r.account!);
  }
  for (const c of chunksOf(inc.previous.map((f) => f.caseKey), 2000)) {
    for (const r of await db.selectFrom('payment').select('account').distinct().where('account', 'in', c).where('id', '>', inc.sinceId).execute()) accounts.add(r.account!);
  }
  const out: Finding[] = [];
  for (const c of chunksOf([...accounts].sort(byteCmp), 5000)) {
    const rows = (
      await db.selectFrom('payment as p').innerJoin('source_file as f', 'f.id', 'p.file_id').select([...PAYMENT_COLUMNS]).where('p.account', 'in', c).orderBy('p.account').orderBy('p.id').execute()
    ).map(toPaymentRow);
    out.push(...accountFindings(rows, minPersons));
  }
  for (const f of inc.previous) if (!accounts.has(f.caseKey)) out.push(f);
  return out.sort((a, b) => byteCmp(a.caseKey, b.caseKey));
}

export const sharedAccount: Detector = {
  id: 'shared_account',
  title: 'One account, several people',
  async *run(ctx: DetectorContext) {
    const { db } = ctx;
    const { minPersons } = ctx.settings.detectors.shared_account;
    ctx.stats.examined = await countPayments(db);
    if (ctx.incremental) {
      yield* await incrementalFindings(db, ctx.incremental, minPersons);
      return;
    }
    // Accounts with minPersons or more people in some period (set-based); their payments are read back once.
    const rows = (
      await db
        .selectFrom('payment as p')
        .innerJoin('source_file as f', 'f.id', 'p.file_id')
        .select([...PAYMENT_COLUMNS])
        .where('p.account', 'in', flaggedAccountsQuery(db, minPersons))
        .orderBy('p.account').orderBy('p.id')
        .execute()
    ).map(toPaymentRow);
    yield* accountFindings(rows, minPersons);
  },
};
