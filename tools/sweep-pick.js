// The sweep's table and picks (tools/sweep.sh): reads DIR/lrRATE/compare.json
// and DIR/negateA/compare.json; per method and setting, forget-set and
// general held-out perplexity; the pick: forget perplexity closest to the
// oracle's (not beyond it) with general perplexity within 5% of the baseline's.
const fs = require("fs");
const [dir, ...rest] = process.argv.slice(2);
const cut = rest.indexOf("--");
const rates = rest.slice(0, cut), negates = rest.slice(cut + 1);
const ppl = (m, t) => m.perplexity[t].perplexity;
const runs = []; // {setting, label, models}
for (const r of rates) runs.push({ set: "lr " + r, j: JSON.parse(fs.readFileSync(`${dir}/lr${r}/compare.json`)) });
for (const a of negates) runs.push({ set: "a " + a, j: JSON.parse(fs.readFileSync(`${dir}/negate${a}/compare.json`)) });
const first = runs[0].j.models;
const base = first.find(m => m.name == "baseline"), oracle = first.find(m => m.name == "oracle");
const bg = ppl(base, "general-heldout"), bf = ppl(base, "forget-set"), of = ppl(oracle, "forget-set");
const rows = {};
for (const run of runs)
    for (const m of run.j.models) {
        if (m.name == "baseline" || m.name == "oracle") continue;
        (rows[m.name] = rows[m.name] || []).push({ set: run.set, f: ppl(m, "forget-set"), g: ppl(m, "general-heldout") });
    }
const out = [];
out.push(`Baseline: forget-set perplexity ${bf.toFixed(1)}, general held-out ${bg.toFixed(2)}; oracle: ${of.toFixed(1)}, ${ppl(oracle, "general-heldout").toFixed(2)}.`);
out.push("");
out.push("| method | " + runs.map(r => r.set).filter((s, i, a) => a.indexOf(s) == i).join(" | ") + " | pick |");
out.push("|---|" + runs.map(() => "---:|").join("") + "---|");
for (const [name, cells] of Object.entries(rows)) {
    const ok = cells.filter(c => c.g <= 1.05 * bg && c.f <= of);
    const pick = ok.length ? ok.reduce((a, b) => (Math.log(b.f) > Math.log(a.f) ? b : a)) : null;
    const bySet = Object.fromEntries(cells.map(c => [c.set, c]));
    const line = runs.map(r => bySet[r.set] ? `${bySet[r.set].f.toFixed(1)} / ${bySet[r.set].g.toFixed(2)}` : "");
    out.push(`| ${name} | ${line.join(" | ")} | ${pick ? pick.set : "none within 5%"} |`);
}
out.push("");
out.push("Cells: forget-set perplexity / general held-out perplexity after the budget.");
console.log(out.join("\n"));
