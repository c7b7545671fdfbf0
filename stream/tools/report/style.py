"""The report page's style sheet: screen, and print (A4, each section from a new page)."""

CSS = """
:root { --ink: #1d2430; --muted: #5f6b7a; --line: #dde3ea; --card: #f6f8fb; --accent: #1f6fd1; }
* { box-sizing: border-box; }
body { margin: 0; background: #fff; color: var(--ink);
       font: 15px/1.45 "Segoe UI", Roboto, "Helvetica Neue", Arial, "Liberation Sans", "DejaVu Sans", sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 28px 32px 40px; }
header { border-bottom: 4px solid var(--accent); padding-bottom: 14px; margin-bottom: 8px; }
.kicker { margin: 0; color: var(--muted); font-size: 13px; letter-spacing: .04em; text-transform: uppercase; }
h1 { margin: 4px 0 2px; font-size: 30px; }
.week { margin: 0; font-size: 17px; }
h2 { font-size: 21px; margin: 30px 0 12px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 17px; margin: 22px 0 2px; }
.sub { color: var(--muted); font-size: 13px; margin: 0 0 10px; }
.grid { display: grid; gap: 14px; }
.g4 { grid-template-columns: repeat(4, 1fr); }
.g3 { grid-template-columns: repeat(3, 1fr); }
.g2 { grid-template-columns: repeat(2, 1fr); }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
.card h4 { margin: 0 0 4px; font-size: 14px; font-weight: 600; }
.ind { display: flex; flex-direction: column; } .ind .head { flex: 1; }
.card .note { color: var(--muted); font-size: 12px; margin: 0 0 8px; }
.big { font-size: 30px; font-weight: 700; line-height: 1.1; }
.count { color: var(--muted); font-size: 13px; }
.badge { display: inline-block; border-radius: 10px; padding: 1px 8px; font-size: 12px; font-weight: 600; color: #fff; }
.met { background: #2e9e5b; } .unmet { background: #d64541; }
.dyn { font-size: 13px; margin-top: 6px; }
.growth { color: #2e9e5b; } .fall { color: #d64541; } .none { color: var(--muted); }
table.tally { width: 100%; border-collapse: collapse; font-size: 14px; }
table.tally td { padding: 3px 0; border-bottom: 1px solid var(--line); }
table.tally td.n { text-align: right; font-weight: 600; white-space: nowrap; padding-left: 8px; }
table.tally td.p { text-align: right; color: var(--muted); white-space: nowrap; padding-left: 8px; width: 64px; }
.defs { color: var(--muted); font-size: 12.5px; margin: 10px 0 0; padding-left: 18px; }
.important { border-left: 4px solid #f0a202; background: #fff8e8; padding: 8px 12px; font-size: 13px;
              margin-top: 12px; }
svg { display: block; width: 100%; height: auto; margin: 6px 0 4px; }
svg text { font-family: inherit; font-size: 13px; fill: var(--ink); }
svg .axis { font-size: 11px; fill: var(--muted); }
svg .val { font-weight: 600; }
.legend { font-size: 13px; color: var(--muted); margin: 0 0 4px; }
.legend span { display: inline-block; width: 11px; height: 11px; border-radius: 2px; margin: 0 4px 0 12px;
               vertical-align: -1px; }
.list h4 { margin: 0 0 6px; font-size: 14px; }
.list ol, .list ul { margin: 0; padding-left: 20px; font-size: 14px; }
.list li { margin: 1px 0; }
.list .v { float: right; font-weight: 600; margin-left: 8px; }
#top li::after { content: ""; display: block; clear: both; }
.list .empty { color: var(--muted); font-size: 13px; list-style: none; margin-left: -20px; }
.low h4 { color: #b8322e; } .sufficient h4 { color: #a86f00; } .high h4 { color: #23794a; }
.sel { font-weight: 700; color: var(--accent); }
.cols { columns: 3; column-gap: 24px; }
.swatch { display: inline-block; width: 18px; height: 3px; vertical-align: 4px; margin: 0 5px 0 12px; }
.multiples { display: grid; grid-template-columns: repeat(4, 1fr); gap: 10px 14px; }
.multiples figure { margin: 0; border: 1px solid var(--line); border-radius: 6px; padding: 4px 6px 2px; }
.multiples figcaption { font-size: 12.5px; font-weight: 600; white-space: nowrap; overflow: hidden;
                        text-overflow: ellipsis; }
.multiples svg text { font-size: 9px; }
.side { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 18px; align-items: start; }
#zero ul { columns: 2; column-gap: 16px; font-size: 13px; }
svg .tile text { font-size: 10px; fill: #fff; font-weight: 600; }
svg .tile .v { font-size: 9px; font-weight: 400; }
svg .ghost text { font-size: 10px; fill: #a9b3bf; }
footer { margin-top: 34px; padding-top: 10px; border-top: 1px solid var(--line); color: var(--muted); font-size: 12px; }
@page { size: A4; margin: 12mm; }
@media print {
  main { max-width: none; padding: 0; }
  section { break-before: page; }
  section:first-of-type { break-before: auto; }
  .card, svg, figure, .list li { break-inside: avoid; }
  .g4 { grid-template-columns: repeat(2, 1fr); }
  .multiples { grid-template-columns: repeat(3, 1fr); }
  .side { grid-template-columns: 1fr; }
}
@media screen and (max-width: 800px) {
  .g4, .g3, .g2, .side { grid-template-columns: 1fr; } .cols { columns: 1; }
  .multiples { grid-template-columns: repeat(2, 1fr); }
}
"""
