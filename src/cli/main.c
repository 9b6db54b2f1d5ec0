/* obliviate: make a language model forget a body of text (Eldan & Russinovich,
 * "Who's Harry Potter?", 2023). This file only dispatches to the commands. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "util/dist.h"
#include "util/fileio.h"
#include "util/log.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} commands[] = {
    {"tokenizer", cmd_tokenizer, "tokenizer train: learn a byte-level BPE vocabulary from text"},
    {"init", cmd_init, "create a randomly initialised Llama model (GGUF)"},
    {"train", cmd_train, "pre-train or fine-tune a model on text files"},
    {"generate", cmd_generate, "continue a prompt (greedy, temperature, top-k, top-p)"},
    {"perplexity", cmd_perplexity, "a model's loss and perplexity on text files"},
    {"eval", cmd_eval, "compare models: perplexity on texts, familiarity on prompts"},
    {"compare", cmd_compare,
     "every unlearning method from one baseline, measured against the oracle"},
    {"report", cmd_report, "eval JSON and training logs -> Markdown and HTML report with charts"},
    {"inspect", cmd_inspect, "show a GGUF file's metadata and tensors"},
    {"quantize", cmd_quantize, "GGUF -> quantised GGUF (q8_0, q4_0, q4_k_m, q5_k_m, q6_k ...)"},
    {"import-hf", cmd_import_hf, "Hugging Face Llama folder (safetensors) -> GGUF"},
    {"export-hf", cmd_export_hf, "GGUF -> Hugging Face Llama folder (safetensors)"},
    {"bench", cmd_bench, "measure training and forward throughput"},
    {"reinforce", cmd_reinforce, "train the baseline further on the target (WHP step 1)"},
    {"anchors", cmd_anchors, "anchors check: an anchor dictionary's tokens, counts, conflicts"},
    {"labels", cmd_labels, "generic labels for the target text (WHP step 4)"},
    {"unlearn", cmd_unlearn, "the whole method: reinforce, anchors, labels, fine-tune"},
    {"prepare", cmd_prepare, "build the demo's texts from its downloads (fetch-demo-data.sh)"},
};

/* What to do after an interruption, by command. */
static const struct {
    const char *name, *hint;
} resume_hints[] = {
    {"train", "rerun with --resume to continue from the last checkpoint (--ckpt-every sets how "
              "often one is written)"},
    {"reinforce", "rerun with --resume to continue from the last checkpoint (--ckpt-every sets "
                  "how often one is written)"},
    {"unlearn", "rerun the same command: finished stages are skipped, training resumes from its "
                "last checkpoint"},
};
static char g_interrupt_msg[512];

/* SIGINT / SIGTERM: remove this process's temporary files and locks, say so
 * in one line, then die of the signal as before (exit status 130 / 143).
 * Only async-signal-safe calls: unlink, write, signal, raise. */
static void on_interrupt(int sig) {
    ob_tmp_remove_all();
    ssize_t n = write(STDERR_FILENO, g_interrupt_msg, strlen(g_interrupt_msg));
    (void)n;
    signal(sig, SIG_DFL);
    raise(sig);
}

static void catch_interrupts(const char *cmd) {
    const char *hint = "outputs already written are whole; rerun the command";
    for (size_t i = 0; i < sizeof resume_hints / sizeof *resume_hints; i++)
        if (!strcmp(cmd, resume_hints[i].name)) hint = resume_hints[i].hint;
    snprintf(g_interrupt_msg, sizeof g_interrupt_msg,
             "\nobliviate %s: interrupted; temporary files removed; %s\n", cmd, hint);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    /* a signal the caller ignores (nohup, a background job) stays ignored */
    int sigs[] = {SIGINT, SIGTERM};
    for (int i = 0; i < 2; i++) {
        struct sigaction old;
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN)
            sigaction(sigs[i], &sa, NULL);
    }
}

static void usage(FILE *out) {
    fprintf(out, "usage: obliviate COMMAND [options]   (obliviate COMMAND --help for details)\n\n"
                 "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-11s %s\n", commands[i].name, commands[i].help);
}

/* The library's progress and notes: on stderr, from rank 0 only. */
static void log_to_stderr(void *ctx, const char *text) {
    (void)ctx;
    if (dist_rank() == 0) fputs(text, stderr);
}

/* Under mpirun (make MPI=1) every rank runs the command; only rank 0's
 * stdout is kept, so results print once. A rank that fails ends the whole
 * job: its message names the rank (cli_fail), then MPI_Abort. */
int main(int argc, char **argv) {
    ObErr err;
    if (dist_init(&argc, &argv, &err)) {
        fprintf(stderr, "obliviate: %s\n", err.msg);
        return 1;
    }
    ob_log_set(log_to_stderr, NULL);
    if (dist_rank() != 0 && !freopen("/dev/null", "w", stdout)) {
        fprintf(stderr, "obliviate: rank %d: cannot silence stdout\n", dist_rank());
        dist_abort(1);
    }
    int rc = 2;
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        rc = argc < 2 ? 2 : 0;
    } else {
        size_t i = 0, n = sizeof commands / sizeof commands[0];
        while (i < n && strcmp(argv[1], commands[i].name)) i++;
        if (i < n) {
            catch_interrupts(commands[i].name);
            rc = commands[i].run(argc - 2, argv + 2);
        } else
            fprintf(stderr, "obliviate: unknown command '%s' (see obliviate --help)\n", argv[1]);
    }
    if (rc && dist_size() > 1) {
        fflush(stdout);
        dist_abort(rc);
    }
    dist_finalize();
    return rc;
}
