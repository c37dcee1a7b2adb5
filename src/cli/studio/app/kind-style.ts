/** The style of the tabs and of the components, context and data views (appended to /app.css). */
export const KIND_CSS = `
main[hidden] { display: none; }
nav.tabs { display: flex; gap: 4px; margin-left: auto; }
nav.tabs button { background: none; border: 1px solid #4a5a6a; color: #d8e0e8; padding: 3px 10px; border-radius: 4px; font: inherit; cursor: pointer; }
nav.tabs button.chosen { background: #1b6ca8; border-color: #1b6ca8; color: #fff; }
.card.wide { width: auto; max-width: 100%; }
.maps { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; margin: 6px 0; }
table.heatmap-grid { border-collapse: collapse; font-size: 11px; }
table.heatmap-grid caption { font-weight: 600; text-align: left; padding-bottom: 2px; }
table.heatmap-grid td { min-width: 44px; height: 26px; padding: 0 3px; text-align: center; border: 1px solid #fff; white-space: nowrap; }
table.heatmap-grid th { padding: 0 4px; color: #4a5a6a; font-weight: 400; }
ol.top-nodes, ol.top-sources { font-size: 12px; margin: 4px 0; padding-left: 20px; }
.context-text { line-height: 1.9; white-space: pre-wrap; }
.context-text .source { padding: 1px 2px; border-radius: 3px; }
.context-text .source.top { outline: 2px solid #1d2733; }
.scroll { overflow-x: auto; }
table.examples { border-collapse: collapse; font-size: 12px; }
table.examples td, table.examples th { padding: 2px 6px; border-bottom: 1px solid #eef1f4; text-align: right; }
table.examples tr.test { background: #eef4fa; font-weight: 600; }
.tiles { display: flex; flex-wrap: wrap; gap: 8px; align-items: flex-end; margin: 6px 0; }
.tiles .role { width: 90px; font-weight: 600; }
figure.example { margin: 0; text-align: center; font-size: 11px; }
canvas.thumb { width: 72px; height: 72px; image-rendering: pixelated; display: block; border: 1px solid #d8dee4; }
`;
