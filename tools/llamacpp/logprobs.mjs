// llama.cpp (through node-llama-cpp, CPU only) as an independent reference for
// a GGUF model's next-token distributions and its tokenizer.
//
//   node logprobs.mjs MODEL.gguf --tokens 1,2,3      -> {"logprobs": [[V floats] per position]}
//   node logprobs.mjs MODEL.gguf --tokenize TEXT     -> {"tokens": [...]} (no BOS, no special parsing)
//   node logprobs.mjs MODEL.gguf --tokens 1,2,3 --lora ADAPTER.gguf
//                                                    -> the same with a LoRA adapter applied (scale 1)
//
// Log-probabilities are log(softmax(logits)) as llama.cpp's sampler reports them
// at temperature 1 with top-k, top-p and min-p disabled; a token it leaves out
// of the list gets null. The KV cache is F32 and flash attention is off: llama.cpp's
// CPU flash-attention path rounds to F16 internally (log-probabilities then differ by
// about 1e-2 on a tiny model; without it they agree with fp32 math to about 1e-5).
// Any error: one line on stderr, exit 1.
import process from "node:process";

function fail(msg) {
    process.stderr.write(`logprobs.mjs: ${String(msg).replace(/\s*\n\s*/g, " ")}\n`);
    process.exit(1);
}

async function main() {
    const argv = process.argv.slice(2);
    let lora;
    if (argv.length === 5 && argv[3] === "--lora") lora = argv.splice(3, 2)[1];
    if (argv.length !== 3 || !["--tokens", "--tokenize"].includes(argv[1]))
        fail("usage: node logprobs.mjs MODEL.gguf (--tokens 1,2,3 [--lora ADAPTER.gguf] | --tokenize TEXT)");
    let lib;
    try {
        lib = await import("node-llama-cpp");
    } catch (e) {
        fail(`cannot load node-llama-cpp (run tools/llamacpp/setup.sh): ${e.message}`);
    }
    const llama = await lib.getLlama({gpu: false, build: "never", logLevel: "error", logger: () => {}});
    const model = await llama.loadModel({modelPath: argv[0]});
    if (argv[1] === "--tokenize") {
        process.stdout.write(JSON.stringify({tokens: Array.from(model.tokenize(argv[2], false)).map(Number)}) + "\n");
    } else {
        const tokens = argv[2].split(",").map(Number);
        const nVocab = model.tokens.length ?? 0;
        const context = await model.createContext({
            contextSize: Math.max(256, tokens.length + 1), flashAttention: false, batchSize: Math.max(tokens.length, 1), sequences: 1,
            experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32",
            ...(lora ? {lora: {adapters: [{filePath: lora, scale: 1}]}} : {}),
        });
        const seq = context.getSequence();
        const opts = {temperature: 1, topK: 0, topP: 1, minP: 0};
        const res = await seq.controlledEvaluate(tokens.map((t) => [t, {generateNext: {probabilities: true, options: opts}}]));
        const out = res.map((r) => {
            const row = new Array(nVocab).fill(null);
            for (const [t, p] of r.next.probabilities) row[Number(t)] = Math.log(p);
            return row;
        });
        process.stdout.write(JSON.stringify({logprobs: out}) + "\n");
        await context.dispose();
    }
    await model.dispose();
    await llama.dispose();
}

main().catch((e) => fail(e?.message ?? e));
