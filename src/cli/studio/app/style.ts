/** The studio's style sheet (served as /app.css: the CSP allows no inline style). */
export const STUDIO_CSS = `
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, sans-serif; color: #1d2733; background: #f4f6f8; }
header { padding: 10px 18px; background: #1d2733; color: #fff; display: flex; gap: 16px; align-items: baseline; }
header h1 { font-size: 18px; margin: 0; }
header .sub { color: #b8c4d0; }
main { display: grid; grid-template-columns: 340px 1fr; gap: 16px; padding: 16px; align-items: start; }
section.panel { position: sticky; top: 8px; max-height: calc(100vh - 16px); overflow: auto; }
aside, section.panel { background: #fff; border: 1px solid #d8dee4; border-radius: 8px; padding: 12px; }
label { display: block; margin: 8px 0 2px; font-weight: 600; }
select, input[type=text], input[type=number] { width: 100%; padding: 4px 6px; font: inherit; }
fieldset { border: 1px solid #d8dee4; border-radius: 6px; margin: 8px 0; padding: 6px 8px; }
legend { font-weight: 600; }
.method { margin: 2px 0; }
.method .opts { margin: 4px 0 8px 22px; display: grid; grid-template-columns: 1fr 1fr; gap: 4px 8px; }
.method .opts[hidden] { display: none; }
.method .opts label { font-weight: 400; margin: 0; font-size: 12px; color: #4a5a6a; }
.samples { display: flex; flex-wrap: wrap; gap: 6px; margin: 4px 0; }
.samples button { border: 2px solid transparent; padding: 0; background: none; cursor: pointer; font: inherit; }
.samples button.chosen { border-color: #1b6ca8; }
.samples img { width: 56px; height: 56px; image-rendering: pixelated; display: block; }
.samples .file { padding: 4px 8px; border: 1px solid #d8dee4; border-radius: 4px; }
.error { color: #b00020; white-space: pre-wrap; }
.note { color: #4a5a6a; font-size: 12px; }
button.primary { margin-top: 12px; width: 100%; padding: 8px; font: inherit; font-weight: 600; background: #1b6ca8; color: #fff; border: 0; border-radius: 6px; cursor: pointer; }
button.primary:disabled { background: #8aa9c2; }
.toolbar { display: flex; gap: 16px; align-items: center; flex-wrap: wrap; margin-bottom: 8px; }
.toolbar label { display: inline; font-weight: 400; }
.colorbar { display: inline-flex; align-items: center; gap: 6px; }
.colorbar .bar { width: 160px; height: 12px; background: linear-gradient(90deg, rgb(5,48,97), rgb(67,147,195), rgb(247,247,247), rgb(214,96,77), rgb(103,0,31)); border: 1px solid #ccc; }
.results { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
.card { background: #fff; border: 1px solid #d8dee4; border-radius: 8px; padding: 10px; width: 290px; }
.card h3 { margin: 0 0 4px; font-size: 15px; }
.card .state { font-size: 12px; color: #4a5a6a; }
.card progress { width: 100%; }
.card img.heatmap { width: 256px; height: 256px; image-rendering: pixelated; display: block; margin: 6px 0; }
.card img.curves { width: 100%; display: block; }
.card dl { display: grid; grid-template-columns: auto 1fr; gap: 0 8px; margin: 4px 0; font-size: 12px; }
.card dt { color: #4a5a6a; }
.card dd { margin: 0; }
.card .actions { display: flex; gap: 10px; font-size: 12px; }
.bars { margin: 6px 0; font-size: 11px; }
.barrow { display: grid; grid-template-columns: 56px 1fr 60px; gap: 4px; align-items: center; }
.barrow .track { position: relative; height: 10px; background: #f0f2f4; }
.barrow .fill { position: absolute; top: 0; bottom: 0; }
.barrow .fill.pos { left: 50%; background: rgb(214, 96, 77); }
.barrow .fill.neg { right: 50%; background: rgb(67, 147, 195); }
.barrow .num { text-align: right; }
.tokens { line-height: 1.9; }
.tokens .tok { padding: 1px 3px; border-radius: 3px; }
textarea { width: 100%; font: inherit; }
#text-input[hidden] { display: none; }
.card.failed { border-color: #b00020; }
`;
