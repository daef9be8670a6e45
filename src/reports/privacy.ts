/**
 * Masking for auditor-facing files (DOMAIN.md §6): resident IDs keep their first 6 and last 4 characters,
 * bank accounts their last 4 digits. Free text (a reject's raw line, a reason, a "why" line) is masked too.
 */
import { maskAccount, maskIdsInText } from '../identity/resident-id.ts';

/**
 * Masks personal numbers inside free text: ID-shaped runs (15 or 18 characters) to first 6 + last 4, then
 * every other run of 10 or more digits (bank accounts of any length, person numbers) to its last 4.
 * Amounts, periods, dates and batch numbers (fewer than 10 digits in a row) are left alone.
 */
export function maskText(text: string): string {
  return maskIdsInText(text).replace(/(?<![0-9０-９*])[0-9０-９]{10,}(?![0-9０-９])/g, (m) => maskAccount(m));
}

/** Masks a bank account to `****` and its last 4 digits (the length is not shown either). */
export function maskAccountShort(account: string): string {
  return account.length <= 4 ? '****' : '****' + account.slice(-4);
}

/** Masks a list of bank accounts ({@link maskAccountShort}) and joins them with `;`. */
export function maskAccounts(accounts: readonly string[]): string {
  return accounts.map(maskAccountShort).join(';');
}
