import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.ts';

describe('logs never carry full IDs (DOMAIN.md §6)', () => {
  it('masks ID fields, ID-shaped strings in messages, nested fields and errors', () => {
    const lines: string[] = [];
    const sink = new Writable({ write(chunk, _e, cb) { lines.push(String(chunk)); cb(); } });
    const log = createLogger('info', sink);
    log.info({ id_number: '36010219500101001X', file: 'p.csv' }, 'rejected 36010219500101001X on line 4');
    log.warn({ detail: { who: 'ID 360102500101001 and account 6217000011112222333' } }, 'nested');
    log.error({ err: new Error('bad ID 36010219500101001x') }, 'failed');
    const all = lines.join('');
    expect(all).not.toMatch(/36010219500101001[Xx]/);
    expect(all).not.toContain('360102500101001');
    expect(all).not.toContain('6217000011112222333');
    expect(JSON.parse(lines[0]!)).toMatchObject({ id_number: '[masked]', msg: 'rejected 360102********001X on line 4', file: 'p.csv' });
    expect(JSON.parse(lines[1]!).detail.who).toBe('ID 360102*****1001 and account ***************2333');
    expect(JSON.parse(lines[2]!).err.message).toBe('bad ID 360102********001X');
  });
});
