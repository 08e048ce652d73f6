// chart.js — a bar chart drawn as inline SVG elements made by Preact (no chart library, no style
// attributes: the CSP forbids inline styles; SVG's own attributes place the bars, classes colour them).
import { html } from './html.js';

// Where each bar goes in a width × height box (bottom padding for the labels): [{x, y, width, height}]
// in SVG units, the tallest value filling the plot; a zero or missing value is a bar of height 0.
export function barLayout(values, width, height, gap = 2) {
  const top = Math.max(0, ...values.map((value) => (Number.isFinite(value) ? value : 0)));
  const step = values.length ? width / values.length : 0;
  return values.map((value, index) => {
    const size = top > 0 && Number.isFinite(value) && value > 0 ? (value / top) * height : 0;
    return { x: index * step + gap / 2, y: height - size, width: Math.max(step - gap, 1), height: size };
  });
}

const WIDTH = 600;
const HEADROOM = 28; // the scale's label, above the bars
const PLOT = 150;
const LABELS = 30;

// bars: [{label, value}] in order (a bar with an empty label and a null value is an empty slot); title
// names the chart (its accessible name); unit follows each value in the bars' tooltips. Labels the
// first, middle and last bars under them, and the tallest value above.
export function BarChart({ bars, title, unit, id }) {
  const layout = barLayout(bars.map((bar) => bar.value), WIDTH, PLOT);
  const labelled = new Set([0, Math.floor((bars.length - 1) / 2), bars.length - 1]
    .filter((index) => bars[index] && bars[index].label));
  const top = Math.max(0, ...bars.map((bar) => bar.value || 0));
  return html`
    <svg class="bar-chart" id=${id} viewBox=${`0 0 ${WIDTH} ${HEADROOM + PLOT + LABELS}`} role="img" aria-label=${title}>
      <text class="tick" x="0" y="20">max ${top} ${unit}</text>
      <g transform=${`translate(0 ${HEADROOM})`}>
        <line class="axis" x1="0" y1=${PLOT} x2=${WIDTH} y2=${PLOT} />
        ${layout.map((box, index) => bars[index].value == null ? null : html`
          <rect class="bar" x=${box.x} y=${box.y} width=${box.width} height=${box.height} data-value=${bars[index].value}>
            <title>${bars[index].label}: ${bars[index].value} ${unit}</title>
          </rect>`)}
        ${[...labelled].map((index) => html`
          <text class="tick" x=${layout[index].x + layout[index].width / 2} y=${PLOT + 24}
                text-anchor=${index === 0 ? 'start' : index === bars.length - 1 ? 'end' : 'middle'}>${bars[index].label}</text>`)}
      </g>
    </svg>`;
}
