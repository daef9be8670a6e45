/**
 * Charts for the self-contained HTML reports, rendered on the server with Apache ECharts' SVG renderer
 * (`ssr: true`) and inlined: no script, no network, printable. ECharts escapes the text it draws (category
 * labels are data); the caller still passes only labels it means to show.
 *
 * Values are plain numbers (yuan as decimals, counts); money is formatted with two decimals and thousands
 * separators on the chart.
 */
import * as echarts from 'echarts/core';
import { BarChart, LineChart } from 'echarts/charts';
import { GridComponent, LegendComponent } from 'echarts/components';
import { SVGRenderer } from 'echarts/renderers';

echarts.use([BarChart, LineChart, GridComponent, LegendComponent, SVGRenderer]);

/** Font stack for chart text (CJK first, so district names render with the page's font). */
export const CHART_FONT = '"Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", sans-serif';
const COLORS = ['#2f5d8a', '#c8553d', '#6a994e', '#8d6a9f', '#e0a030'];

/** Formats yuan (a decimal number) as `1,234.50`. */
export function money(yuan: number): string {
  return yuan.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

/** Axis tick label for yuan: `5,000`, `1.5万` from ten thousand up (how Chinese readers count money). */
export function axisMoney(yuan: number): string {
  if (Math.abs(yuan) >= 10000) return `${Number((yuan / 10000).toFixed(2))}万`;
  return money(yuan).replace(/\.00$/, '');
}

type Option = Parameters<echarts.EChartsType['setOption']>[0];

/**
 * Renders one ECharts option to an SVG string (viewBox set, so CSS can scale it).
 * @param width,height the drawing size in CSS pixels
 */
export function renderSvg(option: Option, width: number, height: number): string {
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width, height });
  try {
    chart.setOption({ animation: false, color: COLORS, textStyle: { fontFamily: CHART_FONT, fontSize: 12 }, ...option });
    return chart.renderToSVGString({ useViewBox: true });
  } finally {
    chart.dispose();
  }
}

/** A bar chart of one series. */
export interface BarSpec {
  categories: string[];
  values: number[];
  /** Label over each bar (defaults to the value as money). */
  labels?: string[];
  /** Axis name, e.g. `元`. */
  unit: string;
  /** Categories on the vertical axis, first at the top (long labels such as district names). */
  horizontal?: boolean;
  /** Value-axis tick labels (default {@link axisMoney}). */
  axisFormat?: (v: number) => string;
  /** Room for category labels on a horizontal chart, CSS pixels (default 150). */
  labelWidth?: number;
  width?: number;
}

/** One-series bar chart; height grows with the number of categories when horizontal. */
export function barChart(spec: BarSpec): string {
  const width = spec.width ?? 720;
  const n = Math.max(spec.categories.length, 1);
  const height = spec.horizontal ? Math.max(140, 46 + n * 30) : 300;
  const labels = spec.labels ?? spec.values.map(money);
  const labelWidth = spec.labelWidth ?? 150;
  const cat = {
    type: 'category' as const, data: spec.categories, inverse: !!spec.horizontal, axisTick: { alignWithLabel: true },
    axisLabel: { interval: 0, width: labelWidth, overflow: 'truncate' as const },
  };
  const val = { type: 'value' as const, name: spec.unit, splitNumber: 4, axisLabel: { formatter: spec.axisFormat ?? axisMoney, hideOverlap: true } };
  return renderSvg(
    {
      grid: { left: spec.horizontal ? labelWidth + 10 : 80, right: spec.horizontal ? 130 : 30, top: 36, bottom: spec.horizontal ? 24 : 48 },
      xAxis: spec.horizontal ? val : cat,
      yAxis: spec.horizontal ? cat : val,
      series: [{
        type: 'bar', data: spec.values, barMaxWidth: 36,
        label: { show: true, position: spec.horizontal ? 'right' : 'top', formatter: (p: { dataIndex: number }) => labels[p.dataIndex] ?? '' },
      }],
    },
    width,
    height,
  );
}

/** The trend across runs: amount (bars, left axis, yuan) and cases (line, right axis) per business date. */
export function trendChart(spec: { dates: string[]; amounts: number[]; cases: number[]; width?: number }): string {
  return renderSvg(
    {
      legend: { top: 4, data: ['金额 amount (元)', '案件 cases'] },
      grid: { left: 90, right: 60, top: 44, bottom: 48 },
      xAxis: { type: 'category', data: spec.dates, axisLabel: { interval: 'auto' } },
      yAxis: [
        { type: 'value', name: '元', axisLabel: { formatter: axisMoney } },
        { type: 'value', name: '案件', minInterval: 1, splitLine: { show: false } },
      ],
      series: [
        { type: 'bar', name: '金额 amount (元)', data: spec.amounts, barMaxWidth: 36 },
        { type: 'line', name: '案件 cases', yAxisIndex: 1, data: spec.cases, symbolSize: 7, label: { show: spec.dates.length <= 12, position: 'top' } },
      ],
    },
    spec.width ?? 720,
    300,
  );
}
