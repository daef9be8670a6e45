/**
 * Ingest benchmark: rows per second and peak resident memory (RSS) of ingesting one large payment CSV and
 * one large payment XLSX, each in a fresh process, at two sizes — so that memory growing with file size
 * shows as a difference between the small and the large run.
 *
 *     node bin/run-ts.js bench/ingest.ts [--csv-rows 1000000] [--xlsx-rows 200000] [--small 10] [--dir DIR] [--keep]
 *
 * `--small N` also runs files N times smaller (default 10; 0 skips them). Files are written into a temporary
 * directory (or DIR) and removed afterwards unless `--keep`. The data is synthetic: valid resident IDs,
 * Chinese names (rare characters included), several benefit schemes, items and periods; the XLSX file is
 * written the way Excel stores one (shared strings, date cells with a date format).
 *
 * Peak RSS is `process.resourceUsage().maxRSS` of the child process that ingests the file (it includes
 * Node.js, the TypeScript loader, exceljs and SQLite themselves: about 100 MiB before the first row).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import ExcelJS from 'exceljs';
import { checkCharacter } from '../src/identity/resident-id.ts';

const HEADER = ['个人编号', '姓名', '公民身份号码', '性别', '险种类型', '待遇项目', '发放年月', '发放金额', '发放日期', '银行账号', '开户银行', '经办机构', '发放批次号'];
const SURNAMES = Array.from('王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤');
const GIVEN = Array.from('建国秀英卫东桂兰德胜淑珍明春花永福玉志强红梅华平军芳丽敏静伟刚勇杰娟霞燕婷雪琴云莲荣峰海波涛斌宇浩凯鹏飞𠮷䶮龘');
const AREAS = ['360102', '360103', '360104', '360105', '360111', '360112', '360113', '360121'];
const SCHEMES = ['110', '120', '170'];
const ITEMS = ['基本养老金', '补发养老金', '待遇调整补差'];

/** The i-th synthetic payment row (deterministic). */
function payment(i: number): { cells: (string | number | Date)[] } {
  const person = i % 250_000;
  const area = AREAS[person % AREAS.length]!;
  // A distinct (birth date, sequence) per person: 14,600 birth dates from 1930, then the sequence number.
  const born = new Date(Date.UTC(1930, 0, 1) + (person % 14_600) * 86_400_000).toISOString();
  const birth = born.slice(0, 4) + born.slice(5, 7) + born.slice(8, 10);
  const first17 = area + birth + String(Math.floor(person / 14_600)).padStart(3, '0');
  const id = first17 + checkCharacter(first17);
  const name = SURNAMES[person % SURNAMES.length]! + GIVEN[(person * 7) % GIVEN.length]! + GIVEN[(person * 13) % GIVEN.length]!;
  const k = Math.floor(i / 250_000);
  const period = `2024${String(1 + (k % 12)).padStart(2, '0')}`;
  const amount = ((150_000 + ((person * 37) % 400_000)) / 100).toFixed(2);
  return {
    cells: [
      `P${String(person).padStart(8, '0')}`, name, id, person % 2 ? '男' : '女', SCHEMES[person % 3]!, ITEMS[k % 3]!, period, amount,
      `2024-${String(1 + (k % 12)).padStart(2, '0')}-05`, `6217${String(person).padStart(12, '0')}`, '中国建设银行南昌分行', `${area}000001`, `B${period}-${Math.floor(k / 12)}`,
    ],
  };
}

async function writeCsv(file: string, rows: number): Promise<void> {
  const out = fs.createWriteStream(file);
  out.write(HEADER.join(',') + '\r\n');
  for (let i = 0; i < rows; i++) {
    if (!out.write(payment(i).cells.join(',') + '\r\n')) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

async function writeXlsx(file: string, rows: number): Promise<void> {
  const wb = new ExcelJS.stream.xlsx.WorkbookWriter({ filename: file, useSharedStrings: true, useStyles: true });
  const ws = wb.addWorksheet('发放明细');
  ws.addRow(['南昌市社会保险待遇发放明细']).commit();
  ws.addRow(HEADER).commit();
  for (let i = 0; i < rows; i++) {
    const c = payment(i).cells;
    const [y, m] = [Number(String(c[6]).slice(0, 4)), Number(String(c[6]).slice(4))];
    const row = ws.addRow([c[0], c[1], c[2], c[3], c[4], c[5], c[6], Number(c[7]), new Date(Date.UTC(y, m - 1, 5)), c[9], c[10], c[11], c[12]]);
    row.getCell(9).numFmt = 'yyyy-mm-dd';
    row.commit();
  }
  ws.commit();
  await wb.commit();
}

interface ChildResult {
  file: string;
  rowsRead: number;
  rowsAccepted: number;
  rowsRejected: number;
  ms: number;
  maxRssKiB: number;
}

/** Child mode: ingest one file into a fresh database and print the figures as JSON. */
async function child(file: string, work: string): Promise<void> {
  const { openStore } = await import('../src/db/connection.ts');
  const { loadSettings } = await import('../src/config/settings.ts');
  const { ingestInbox } = await import('../src/ingest/ingest.ts');
  const { silentLogger } = await import('../src/log.ts');
  const inbox = path.join(work, 'inbox');
  fs.mkdirSync(path.join(inbox, 'payments'), { recursive: true });
  const target = path.join(inbox, 'payments', path.basename(file));
  try {
    fs.linkSync(file, target);
  } catch {
    fs.copyFileSync(file, target);
  }
  const store = await openStore(path.join(work, 'bench.db'));
  const started = performance.now();
  const [report] = await ingestInbox({ store, inbox, settings: loadSettings(undefined, work), runId: 1, asOf: '2025-12-31', logger: silentLogger });
  const ms = performance.now() - started;
  await store.close();
  const result: ChildResult = {
    file: path.basename(file), rowsRead: report!.rowsRead, rowsAccepted: report!.rowsAccepted, rowsRejected: report!.rowsRejected, ms,
    maxRssKiB: process.resourceUsage().maxRSS,
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}

function runChild(file: string, work: string): ChildResult {
  fs.mkdirSync(work, { recursive: true });
  const runTs = fileURLToPath(new URL('../bin/run-ts.js', import.meta.url));
  const r = spawnSync(process.execPath, [runTs, fileURLToPath(import.meta.url), '--child', file, work], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`benchmark child failed for ${file} (exit ${r.status})`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as ChildResult;
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i === -1 ? fallback : process.argv[i + 1]!;
}

async function main(): Promise<void> {
  if (process.argv[2] === '--child') return child(process.argv[3]!, process.argv[4]!);
  const csvRows = Number(arg('--csv-rows', '1000000'));
  const xlsxRows = Number(arg('--xlsx-rows', '200000'));
  const small = Number(arg('--small', '10'));
  const dir = process.argv.includes('--dir') ? arg('--dir', '') : fs.mkdtempSync(path.join(os.tmpdir(), 'fundguard-bench-'));
  fs.mkdirSync(dir, { recursive: true });
  const jobs: { label: string; file: string; write: () => Promise<void> }[] = [];
  const add = (kind: 'csv' | 'xlsx', rows: number): void => {
    const file = path.join(dir, `payments-${rows}.${kind}`);
    jobs.push({ label: `${kind.toUpperCase()} ${rows.toLocaleString('en')} rows`, file, write: () => (kind === 'csv' ? writeCsv(file, rows) : writeXlsx(file, rows)) });
  };
  if (small > 0) add('csv', Math.round(csvRows / small));
  add('csv', csvRows);
  if (small > 0) add('xlsx', Math.round(xlsxRows / small));
  add('xlsx', xlsxRows);
  console.log(`fundguard ingest benchmark — Node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'} x${os.cpus().length}, files in ${dir}`);
  console.log('file                      size MiB   rows read  accepted   seconds     rows/s   peak RSS MiB');
  try {
    // All files first, then the runs: writing a large file while another is ingested would skew the timing.
    for (const j of jobs) if (!fs.existsSync(j.file)) await j.write();
    for (const [n, j] of jobs.entries()) {
      const r = runChild(j.file, path.join(dir, `work-${n}`));
      const size = fs.statSync(j.file).size / 2 ** 20;
      console.log(
        `${j.label.padEnd(24)} ${size.toFixed(1).padStart(9)} ${String(r.rowsRead).padStart(11)} ${String(r.rowsAccepted).padStart(9)} ${(r.ms / 1000).toFixed(1).padStart(9)} ${Math.round(r.rowsRead / (r.ms / 1000)).toLocaleString('en').padStart(10)} ${(r.maxRssKiB / 1024).toFixed(0).padStart(14)}`,
      );
      fs.rmSync(path.join(dir, `work-${n}`), { recursive: true, force: true });
    }
  } finally {
    if (!process.argv.includes('--keep') && !process.argv.includes('--dir')) fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
