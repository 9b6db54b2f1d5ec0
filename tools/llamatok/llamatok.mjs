// llama-tokenizer-js as a reference for obliviate's Llama-2 tokenizer.
//
//   node llamatok.mjs vocab OUT.json     the package's vocabulary as GGUF needs it:
//       {"tokens": [...], "scores": [...], "types": [...]}
//   node llamatok.mjs encode IN.json OUT.json
//       IN: a JSON array of strings; OUT: a JSON array of token id arrays
//       (encode(s) with BOS and the leading space, the package's defaults)
//
// The package ships tokens and merges, not SentencePiece scores. A token made by
// merge r gets score -r (the first merge that makes it); other tokens score 0.
// Merging the best-scoring pair first is then the package's lowest-rank-first.
// Types: 0 <unk> unknown (2), 1-2 <s> </s> control (3), <0xXX> byte (6), else 1.
import fs from "node:fs";
import process from "node:process";

function fail(msg) {
    process.stderr.write(`llamatok.mjs: ${msg}\n`);
    process.exit(1);
}

let tok;
try {
    tok = (await import("llama-tokenizer-js")).default;
} catch (e) {
    fail(`cannot load llama-tokenizer-js (run tools/llamatok/setup.sh): ${e.message}`);
}
const [cmd, a, b] = process.argv.slice(2);
if (cmd === "vocab" && a) {
    const tokens = tok.vocabById;
    const scores = new Array(tokens.length).fill(0);
    const made = new Set();
    let rank = 0;
    // tok.merges maps "left right" -> priority, inserted in merge order
    for (const key of tok.merges.keys()) {
        const merged = key.replace(" ", "");
        const id = tok.vocabByString.get(merged);
        if (id === undefined) fail(`merge "${key}" makes no token`);
        if (!made.has(id)) {
            made.add(id);
            scores[id] = -rank;
        }
        rank++;
    }
    const types = tokens.map((t, i) => (i === 0 ? 2 : i < 3 ? 3 : /^<0x[0-9A-F]{2}>$/.test(t) ? 6 : 1));
    fs.writeFileSync(a, JSON.stringify({tokens, scores, types}));
} else if (cmd === "encode" && a && b) {
    const texts = JSON.parse(fs.readFileSync(a, "utf8"));
    fs.writeFileSync(b, JSON.stringify(texts.map((s) => tok.encode(s))));
} else {
    fail("usage: node llamatok.mjs vocab OUT.json | encode IN.json OUT.json");
}
