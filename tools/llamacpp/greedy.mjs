// llama.cpp (through node-llama-cpp, CPU only) as an independent reader of a GGUF
// file: greedy continuation of given token ids or of a prompt.
//
//   node greedy.mjs MODEL.gguf --tokens 1,2,3 [--n 20] [--kv-type F32|F16]
//   node greedy.mjs MODEL.gguf --prompt "some text" [--n 20]
//
// The given tokens are evaluated exactly as given (no BOS is added); with
// --prompt the text is tokenized without special tokens and without BOS.
// Takes n greedy tokens (temperature 0, no repeat penalty), stopping early only
// when llama.cpp's end-of-generation test (EOS/EOT) fires; that token is
// included. The KV cache is F32 by default so the result is comparable with a
// float32 implementation (llama.cpp's own default is F16).
// Prints one JSON line:
//   {"tokens":[...], "text":"...", "stop":"n"|"eog"}        (+ "prompt_tokens":[...] with --prompt)
// "text" is model.detokenize(tokens) without special-token text.
// Any error: one line on stderr, exit 1. Set up with tools/llamacpp/setup.sh.
import process from "node:process";

let lastLlamaError = null;

function fail(msg) {
    const why = lastLlamaError != null && !msg.includes(lastLlamaError) ? ` (llama.cpp: ${lastLlamaError})` : "";
    process.stderr.write(`greedy.mjs: ${msg}${why}`.replace(/\s*\n\s*/g, " ") + "\n");
    process.exit(1);
}

function parseArgs(argv) {
    const a = {model: null, tokens: null, prompt: null, n: 20, kvType: "F32", ctx: 0};
    for (let i = 0; i < argv.length; i++) {
        const k = argv[i];
        const val = () => {
            if (i + 1 >= argv.length) fail(`${k} needs a value`);
            return argv[++i];
        };
        if (k === "--tokens") {
            const s = val().trim();
            a.tokens = s === "" ? [] : s.split(",").map((t) => {
                if (!/^\s*\d+\s*$/.test(t)) fail(`bad token id "${t}" in --tokens`);
                return Number(t);
            });
        } else if (k === "--prompt") a.prompt = val();
        else if (k === "--n") {
            a.n = Number(val());
            if (!Number.isInteger(a.n) || a.n < 0) fail("--n needs a non-negative integer");
        } else if (k === "--kv-type") a.kvType = val().toUpperCase();
        else if (k === "--ctx") a.ctx = Number(val());
        else if (k === "-h" || k === "--help") {
            process.stdout.write("usage: node greedy.mjs MODEL.gguf (--tokens 1,2,3 | --prompt TEXT) [--n 20] [--kv-type F32|F16] [--ctx N]\n");
            process.exit(0);
        } else if (k.startsWith("--")) fail(`unknown option ${k}`);
        else if (a.model == null) a.model = k;
        else fail(`unexpected argument ${k}`);
    }
    if (a.model == null) fail("usage: node greedy.mjs MODEL.gguf (--tokens 1,2,3 | --prompt TEXT) [--n 20]");
    if ((a.tokens == null) === (a.prompt == null)) fail("give exactly one of --tokens and --prompt");
    return a;
}

async function main() {
    const a = parseArgs(process.argv.slice(2));
    let lib;
    try {
        lib = await import("node-llama-cpp");
    } catch (e) {
        fail(`cannot load node-llama-cpp (run tools/llamacpp/setup.sh): ${e.message}`);
    }
    const {getLlama} = lib;
    // llama.cpp's own error lines are not printed; the first one (the root
    // cause, e.g. "key not found in model: ...") joins the one-line message
    const logger = (level, message) => {
        const m = String(message).trim();
        if (m !== "" && lastLlamaError == null && (level === "error" || level === "fatal")) lastLlamaError = m;
    };
    const llama = await getLlama({gpu: false, build: "never", logLevel: "error", logger});
    const model = await llama.loadModel({modelPath: a.model});
    const out = {};
    let input;
    if (a.prompt != null) {
        input = Array.from(model.tokenize(a.prompt, false));
        out.prompt_tokens = input.map(Number);
    } else {
        input = a.tokens;
        // out-of-range ids would abort inside llama.cpp: check them here
        const embd = (model.fileInfo.fullTensorInfo ?? model.fileInfo.tensorInfo ?? [])
            .find((t) => t.name === "token_embd.weight");
        const nVocab = embd != null ? Number(embd.dimensions[1]) : null;
        for (const t of input)
            if (nVocab != null && t >= nVocab) fail(`token id ${t} is not below the vocabulary size ${nVocab}`);
    }
    if (input.length === 0) fail("no input tokens");
    const need = input.length + a.n + 1;
    const contextSize = a.ctx > 0 ? a.ctx : Math.max(256, need);
    if (need > contextSize) fail(`context ${contextSize} too small for ${need} tokens`);
    const context = await model.createContext({
        contextSize,
        batchSize: Math.min(512, Math.max(input.length, 1)),
        sequences: 1,
        experimentalKvCacheKeyType: a.kvType,
        experimentalKvCacheValueType: a.kvType,
    });
    const sequence = context.getSequence();
    const tokens = [];
    let stop = "n";
    if (a.n > 0) {
        for await (const t of sequence.evaluate(input, {temperature: 0, yieldEogToken: true})) {
            tokens.push(Number(t));
            if (model.isEogToken(t)) {
                stop = "eog";
                break;
            }
            if (tokens.length >= a.n) break;
        }
    }
    const res = {tokens, text: model.detokenize(tokens, false), stop, ...out};
    process.stdout.write(JSON.stringify(res) + "\n");
    await context.dispose();
    await model.dispose();
    await llama.dispose();
}

main().catch(async (e) => {
    await new Promise((r) => setTimeout(r, 100)); // let llama.cpp's log lines arrive
    fail(String(e?.message ?? e).split("\n")[0]);
});
