// The sweep's table and picks (tools/sweep.sh): node sweep-pick.js DIR
// LABEL=SUBDIR ... reads DIR/SUBDIR/compare.json for each setting; per
// method and setting, forget-set and general held-out perplexity; the pick:
// forget perplexity closest to the oracle's (not beyond it) with general
// perplexity within 5% of the baseline's.
const fs = require("fs");
const [dir, ...specs] = process.argv.slice(2);
const ppl = (m, t) => m.perplexity[t].perplexity;
const runs = specs.map(s => {
    const [label, sub] = s.split("=");
    return { label, j: JSON.parse(fs.readFileSync(`${dir}/${sub}/compare.json`)) };
});
const first = runs[0].j.models;
const base = first.find(m => m.name == "baseline"), oracle = first.find(m => m.name == "oracle");
const bg = ppl(base, "general-heldout"), bf = ppl(base, "forget-set"), of = ppl(oracle, "forget-set");
const rows = {};
for (const run of runs)
    for (const m of run.j.models) {
        if (m.name == "baseline" || m.name == "oracle") continue;
        (rows[m.name] = rows[m.name] || []).push({ set: run.label, f: ppl(m, "forget-set"), g: ppl(m, "general-heldout") });
    }
const num = v => (v < 1e4 ? v.toFixed(v < 100 ? 1 : 0) : v.toExponential(0));
const out = [];
out.push(`Baseline: forget-set perplexity ${num(bf)}, general held-out ${bg.toFixed(1)}; oracle: ${num(of)}, ${ppl(oracle, "general-heldout").toFixed(1)}.`);
out.push("");
out.push("| method | setting: forget-set / general held-out perplexity | pick |");
out.push("|---|---|---|");
for (const [name, cells] of Object.entries(rows)) {
    const ok = cells.filter(c => c.g <= 1.05 * bg && c.f <= of);
    const pick = ok.length ? ok.reduce((a, b) => (b.f > a.f ? b : a)) : null;
    const line = cells.map(c => `${c.set}: ${num(c.f)} / ${num(c.g)}`).join("; ");
    out.push(`| ${name} | ${line} | ${pick ? pick.set : "none within 5%"} |`);
}
out.push("");
out.push("Perplexities on the first 40 windows of each text, after 100 steps (the task vector: its reinforce stage).");
console.log(out.join("\n"));
