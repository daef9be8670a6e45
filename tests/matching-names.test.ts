import { describe, it, expect } from 'vitest';
import { bestNameAgreement, compareNames, fullestName, isStrongNameAgreement, readingsOf, toSimplified } from '../src/matching/names.ts';

describe('compareNames (DOMAIN.md §3)', () => {
  it.each([
    // exact
    ['张伟', '张伟', 'exact'],
    ['张 伟', '张伟', 'exact'],
    ['张\u3000伟', '张伟', 'exact'],
    // middle-dot variants, or the dot left out
    ['买买提·艾力', '买买提•艾力', 'middle_dot'],
    ['买买提·艾力', '买买提・艾力', 'middle_dot'],
    ['买买提·艾力', '买买提.艾力', 'middle_dot'],
    ['买买提·艾力', '买买提艾力', 'middle_dot'],
    // traditional vs simplified
    ['張曉龍', '张晓龙', 'script'],
    ['劉德華', '刘德华', 'script'],
    ['鍾國強', '钟国强', 'script'],
    // rare-character placeholders, one character each
    ['王?明', '王𠀋明', 'wildcard'],
    ['王□明', '王堃明', 'wildcard'],
    ['王*明', '王喆明', 'wildcard'],
    ['王\ufffd明', '王淼明', 'wildcard'],
    ['王\ue000明', '王犇明', 'wildcard'],
    ['王？明', '王𪚥明', 'wildcard'],
    ['張?明', '张𠀋明', 'wildcard'],
    // homophones (same toneless pinyin), polyphonic characters by any reading
    ['张晓龙', '张小龙', 'homophone'],
    ['李丽', '李莉', 'homophone'],
    ['曾乐', '曾越', 'homophone'], // 乐: le / yue
    ['張曉龍', '张小龙', 'homophone'],
    // no agreement
    ['张伟', '张伟强', 'none'],
    ['张伟', '王伟', 'none'],
    ['王?明', '李𠀋明', 'none'],
    ['??', '王明', 'none'], // placeholders alone never agree
    ['', '张伟', 'none'],
    ['张伟', '', 'none'],
    ['·', '·', 'exact'],
  ])('%s vs %s → %s', (a, b, level) => {
    expect(compareNames(a, b)).toBe(level);
    expect(compareNames(b, a)).toBe(level);
  });

  it('only homophones and none are weak', () => {
    expect(['exact', 'middle_dot', 'script', 'wildcard', 'homophone', 'none', 'missing'].map((l) => isStrongNameAgreement(l as never))).toEqual([true, true, true, true, false, false, false]);
  });

  it('bestNameAgreement takes the strongest pair', () => {
    expect(bestNameAgreement(['王?明', '张小龙'], ['张晓龙', '王𠀋明'])).toBe('wildcard');
    expect(bestNameAgreement(['张小龙'], ['张晓龙'])).toBe('homophone');
    expect(bestNameAgreement([], ['张晓龙'])).toBe('none');
  });

  it('fullestName prefers a form without placeholders that agrees strongly, never a homophone', () => {
    expect(fullestName('王?明', ['王?明', '王𠀋明'])).toBe('王𠀋明');
    expect(fullestName('张?龙', ['张小龙'])).toBe('张小龙');
    expect(fullestName('张晓龙', ['张小龙'])).toBe('张晓龙');
    expect(fullestName('王?明', [null, '李𠀋明'])).toBe('王?明');
  });

  it('readings and script conversion', () => {
    expect(readingsOf('曾')).toEqual(expect.arrayContaining(['ceng', 'zeng']));
    expect(readingsOf('𠀋')).toEqual(['𠀋']);
    expect(toSimplified('張曉龍')).toBe('张晓龙');
  });
});
