import { describe, expect, it } from 'vitest';
import { maskAccountShort, maskAccounts, maskText } from '../src/reports/privacy.ts';

describe('maskText (auditor files, DOMAIN.md §6)', () => {
  it.each([
    ['18-character ID', 'id 36010219480312011X here', 'id 360102********011X here'],
    ['legacy 15-digit ID', '360102480312011', '360102*****2011'],
    ['19-digit account', 'acct 6217000010000000011,', 'acct ***************0011,'],
    ['12-digit account', '123456789012', '********9012'],
    ['10-digit person number', 'p 1234567890', 'p ******7890'],
    ['amount, period, date and batch left alone', '3456.70 2025-03 20250305 B202503', '3456.70 2025-03 20250305 B202503'],
    ['nine digits left alone', '123456789', '123456789'],
  ])('%s', (_l, input, want) => {
    expect(maskText(input)).toBe(want);
  });
});

describe('maskAccounts', () => {
  it.each([
    [['6217000010000000011'], '****0011'],
    [['6217000010000000011', '6222020200000000123'], '****0011;****0123'],
    [['123'], '****'],
    [[], ''],
  ])('%j → %s', (accounts, want) => {
    expect(maskAccounts(accounts)).toBe(want);
  });

  it('never shows more than the last 4 digits', () => {
    expect(maskAccountShort('6217000010000000011')).not.toContain('62170');
  });
});
