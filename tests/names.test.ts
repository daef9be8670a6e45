import { describe, expect, it } from 'vitest';
import { compareNames, fullestName, hasPlaceholder, nameKey } from '../src/matching/names.ts';

describe('name comparison (DOMAIN.md §3)', () => {
  it.each([
    ['张三', '张三', 'exact'],
    ['张 三', '张三', 'exact'],
    ['阿依古丽·买买提', '阿依古丽•买买提', 'middle_dot'],
    ['阿依古丽・买买提', '阿依古丽.买买提', 'middle_dot'],
    ['李?', '李𠮷', 'wildcard'],
    ['李□明', '李𠮷明', 'wildcard'],
    ['王*', '王𪨶', 'wildcard'],
    ['王\ue000', '王𪨶', 'wildcard'],
    ['李?', '李四五', 'none'],
    ['张三', '张四', 'none'],
    ['', '张三', 'none'],
  ])('%s vs %s: %s', (a, b, level) => expect(compareNames(a, b)).toBe(level));

  it('counts a character outside the BMP as one character', () => {
    expect(Array.from(nameKey('李𠮷')).length).toBe(2);
    expect(hasPlaceholder('李?')).toBe(true);
    expect(hasPlaceholder('李𠮷')).toBe(false);
  });

  it('prefers the full form of a name', () => {
    expect(fullestName('李?', ['李?', null, '李𠮷'])).toBe('李𠮷');
    expect(fullestName('李?', ['王𠮷'])).toBe('李?');
    expect(fullestName('张三', ['张?'])).toBe('张三');
  });
});
