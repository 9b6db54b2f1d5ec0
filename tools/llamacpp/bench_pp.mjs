// llama.cpp's prompt processing (through node-llama-cpp, CPU only) on a GGUF
// file, as the yardstick for obliviate's batched forward (make bench):
//
//   node bench_pp.mjs MODEL.gguf --vocab V [--tokens 512] [--threads 2] [--runs 5]
//     -> {"impl":"llama.cpp","tokens":512,"threads":2,"eval_s_median":...,"tok_s":...}
//
// Evaluates the same N token ids (3 + i*7919 mod (V - 3): never the first
// three, which are special in obliviate's bench files) into an empty sequence in one batch of N, like llama-bench's pp test:
// logits come out for the last position only. One untimed run first, then the
// median of --runs timed ones, each after clearing the sequence. The KV cache
// is F32 and flash attention off, as obliviate computes. Any error: one line
// on stderr, exit 1.
import process from "node:process";

function fail(msg) {
    process.stderr.write(`bench_pp.mjs: ${String(msg).replace(/\s*\n\s*/g, " ")}\n`);
    process.exit(1);
}

function flag(argv, name, dflt) {
    const i = argv.indexOf(name);
    if (i < 0) return dflt;
    const v = Number(argv[i + 1]);
    if (!Number.isInteger(v) || v < 1) fail(`${name} needs a positive integer`);
    return v;
}

async function main() {
    const argv = process.argv.slice(2);
    if (argv.length < 1 || argv[0].startsWith("--"))
        fail("usage: node bench_pp.mjs MODEL.gguf --vocab V [--tokens N] [--threads N] [--runs N]");
    const n = flag(argv, "--tokens", 512), threads = flag(argv, "--threads", 2);
    const runs = flag(argv, "--runs", 5);
    let lib;
    try {
        lib = await import("node-llama-cpp");
    } catch (e) {
        fail(`cannot load node-llama-cpp (run tools/llamacpp/setup.sh): ${e.message}`);
    }
    const llama = await lib.getLlama({gpu: false, build: "never", logLevel: "error", logger: () => {},
                                      maxThreads: threads});
    const model = await llama.loadModel({modelPath: argv[0]});
    const vocab = flag(argv, "--vocab", 0);
    if (vocab < 4) fail("--vocab (the model's vocabulary size, at least 4) is required");
    const tokens = Array.from({length: n}, (_, i) => 3 + ((i * 7919) % (vocab - 3)));
    const context = await model.createContext({
        contextSize: n, batchSize: n, sequences: 1, threads: {ideal: threads, min: threads},
        flashAttention: false, experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32",
    });
    const seq = context.getSequence();
    const times = [];
    for (let r = 0; r <= runs; r++) {
        await seq.clearHistory();
        const t0 = process.hrtime.bigint();
        await seq.evaluateWithoutGeneratingNewTokens(tokens);
        const t = Number(process.hrtime.bigint() - t0) / 1e9;
        if (r > 0) times.push(t);
    }
    times.sort((a, b) => a - b);
    const med = times[Math.floor(times.length / 2)];
    process.stdout.write(JSON.stringify({impl: "llama.cpp", tokens: n, threads, runs,
                                         eval_s_median: med, tok_s: n / med}) + "\n");
    await context.dispose();
    await model.dispose();
    await llama.dispose();
}

main().catch((e) => fail(e?.message ?? e));
