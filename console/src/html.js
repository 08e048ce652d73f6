// html.js — htm's tagged templates bound to Preact's h(): components are written as html`<div>…</div>`
// with no JSX compile step.
import { h } from 'preact';
import htm from 'htm';

export const html = htm.bind(h);
