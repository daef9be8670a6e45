import { describe, expect, it } from 'vitest';
import {
  birthDateFromId, checkCharacter, isValidIdNumber, maskAccount, maskIdNumber, maskIdsInText, normalizeIdNumber, sexFromId,
} from '../src/identity/resident-id.ts';

// 11010519491231002X is the example ID printed in GB 11643-1999.
describe('GB 11643-1999 resident IDs', () => {
  it.each([
    ['11010519491231002', 'X'],
    ['44052418800101001', '4'],
    ['36010219500101001', 'X'],
    ['36011119480305002', '3'],
  ])('check character of %s is %s', (first17, ch) => {
    expect(checkCharacter(first17)).toBe(ch);
  });

  it.each([
    ['11010519491231002X', '11010519491231002X', true, false],
    ['11010519491231002x', '11010519491231002X', true, false],
    ['１１０１０５１９４９１２３１００２Ｘ', '11010519491231002X', true, false],
    [' 110105 19491231 002X ', '11010519491231002X', true, false],
    ['110105491231002', '11010519491231002X', true, true],
    ['110105194912310021', '110105194912310021', false, false], // check character fails: kept, flagged
  ])('normalises %j', (raw, id, valid, upgraded) => {
    expect(normalizeIdNumber(raw)).toEqual({ ok: true, id, valid, upgraded });
  });

  it.each([
    ['', 'EMPTY'],
    ['1101051949123100', 'BAD_LENGTH'],
    ['11010519491231002XX', 'BAD_LENGTH'],
    ['11010519491A31002X', 'BAD_CHARACTERS'],
    ['1101051949123100X2', 'BAD_CHARACTERS'],
    ['11010549123100A', 'BAD_CHARACTERS'],
  ])('refuses %j as %s', (raw, code) => {
    const r = normalizeIdNumber(raw);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.code).toBe(code);
  });

  it('detects every single-digit substitution and adjacent transposition', () => {
    const id = '11010519491231002X';
    let undetected = 0;
    for (let i = 0; i < 17; i++) {
      for (let d = 0; d <= 9; d++) {
        if (String(d) === id[i]) continue;
        if (isValidIdNumber(id.slice(0, i) + d + id.slice(i + 1))) undetected++;
      }
      if (i < 16 && id[i] !== id[i + 1]) {
        if (isValidIdNumber(id.slice(0, i) + id[i + 1] + id[i] + id.slice(i + 2))) undetected++;
      }
    }
    expect(undetected).toBe(0);
  });

  it('reads birth date and sex from the ID', () => {
    expect(birthDateFromId('11010519491231002X')).toBe('1949-12-31');
    expect(sexFromId('11010519491231002X')).toBe('F');
    expect(sexFromId('36010219500101001X')).toBe('M');
    expect(birthDateFromId('11010519490231002X')).toBeNull();
  });

  it('masks IDs and accounts (DOMAIN.md §6)', () => {
    expect(maskIdNumber('11010519491231002X')).toBe('110105********002X');
    expect(maskAccount('6217000011112222333')).toBe('***************2333');
    expect(maskIdsInText('invalid ID 11010519491231002X on line 4; old 110105491231002; acct 6217000011112222333; year 2024'))
      .toBe('invalid ID 110105********002X on line 4; old 110105*****1002; acct ***************2333; year 2024');
  });
});
