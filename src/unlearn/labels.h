/* Generic labels (WHP step 4) and the labels file.
 *
 * For original position i with map[i] >= 0:
 *   g = logits of the baseline at translated position map[i] (reading the
 *       translated block), r = logits of the reinforced model at i (reading
 *       the original block), v = g - alpha * max(r - g, 0);
 *   forbidden tokens (translate.h; plus, with forbid_keys, the keys' tokens
 *   as LABELS_FORBID_* says, at every position; plus, at an in-key
 *   position, the key's next token) get v = mean(v),
 *   the mean over the vocabulary taken before any forbidding;
 *   hard label = argmax v (lowest id on ties); soft target = softmax(v) kept
 *   as its top-k tokens (by probability, descending; ties: lower id first)
 *   with their probabilities, plus rest = max(0, 1 - their sum) (the "rest"
 *   bucket). Positions without a label: hard -1, ids -1, p 0, rest 0.
 * In-key positions (inkey: translate.h's inkey[i], the paper leaves them
 * unlabelled) get a label too, with g = the baseline's logits at i reading
 * the original block (one more forward pass, only for groups that have such
 * positions) and the key's next token orig[i+1] forbidden.
 * Suppression (suppress = z > 0, soft only): after the top k, z more slots
 * list forbidden tokens with p = 0: an in-key position's next key token
 * first, then the others by the reinforced model's logit r, highest first;
 * a token already among the top k is not listed again (slot id -1). Listed
 * with target 0, the loss pushes each down on its own instead of letting it
 * keep a share of the rest bucket.
 * The label at i is the target for the token after position i.
 *
 * File layout (little-endian), validated on read:
 *   LabelsHeader (128 bytes)
 *   n_blocks x block record:
 *     int32 tokens[block]                       original tokens (model input)
 *     n_alphas x int32 hard[block]              -1 = no label
 *     if soft_k > 0: n_alphas x block x {int32 ids[soft_k]; float p[soft_k];
 *                                         float rest}   ids -1 where masked
 *   soft_k counts all slots: the top k, then soft_zero suppression slots.
 * Labels made with another tokenizer (vocab_hash differs) are refused; so
 * are ids outside the vocabulary and probabilities outside [0, 1], so readers
 * can index with what they read.
 *
 * Blocks: the target stream is cut into consecutive non-overlapping blocks of
 * `block` tokens; the incomplete tail block is kept, padded with eot tokens
 * whose labels are -1, so no text is dropped. The last position of every
 * block has no label (its next token lies in the next block). */
#ifndef OB_LABELS_H
#define OB_LABELS_H

#include <stdint.h>

#include "model/llama.h"
#include "text/dataset.h"
#include "text/tokenizer.h"
#include "unlearn/anchors.h"
#include "util/err.h"

#define LABELS_MAX_ALPHAS 8

/* Which anchor keys are forbidden at every position (LabelConfig.forbid_keys):
 * FIRST: every key's first token, in both forms (with a small BPE vocabulary
 * that includes fragments such as " H" of " H ather ley"); WHOLE: only the
 * keys that are a single token in a form (" Holmes"), leaving multi-token
 * keys to the in-key labels. */
enum { LABELS_FORBID_NONE = 0, LABELS_FORBID_FIRST = 1, LABELS_FORBID_WHOLE = 2 };

typedef struct {
    char magic[8];    /* "OBLABELS" */
    uint32_t version; /* 1 */
    uint32_t block;   /* tokens per block (T) */
    uint64_t vocab_hash;
    uint32_t vocab_size;
    uint32_t n_alphas;
    uint64_t n_blocks;
    uint32_t soft_k; /* slots per soft record (top-k + suppression); 0: hard only */
    uint32_t flags;  /* bit 0: keys forbidden; 1: in-key labels; 2: whole keys only */
    float alphas[LABELS_MAX_ALPHAS];
    uint32_t soft_zero;   /* the last soft_zero slots are suppression slots (target 0) */
    uint8_t reserved[44]; /* zero; pads the header to 128 bytes */
} LabelsHeader;

typedef struct {
    float alphas[LABELS_MAX_ALPHAS];
    int n_alphas;
    int soft_k;      /* top-k kept for soft targets; 0 = hard only */
    int forbid_keys; /* LABELS_FORBID_*: forbid the anchor keys themselves everywhere */
    int suppress;    /* soft records also list this many forbidden tokens with target 0 */
    int inkey;       /* label positions inside keys from the original text */
    int block;       /* tokens per block (<= both models' context) */
    int batch;       /* blocks per forward pass */
    uint64_t seed;   /* picks one value per key per block */
} LabelConfig;

typedef struct {
    long blocks, positions, labelled; /* labelled: positions with map >= 0 */
    int block;                        /* tokens per block, as used */
    long changed[LABELS_MAX_ALPHAS];  /* hard labels differing from the next token */
    double seconds, tokens_per_s;     /* all forward passes (2 per block, 3 with in-key ones) */
} LabelStats;

/* Cuts target into blocks, translates, runs both models and writes the
 * labels file atomically. base and reinf must share tok's vocabulary; d must
 * be tokenized with it, or NULL for no anchors (identity translation: only
 * the alpha term acts). The translation of block n uses the n-th draw of one
 * ObRng seeded with c->seed, so a fixed seed and thread count give the same
 * file (another thread count may round BLAS sums differently and flip a
 * near-tied label; the translation never changes). Reallocates both models' activations
 * for (c->batch, c->block). Progress lines go to stderr (at most one every
 * 2 s). stats: positions = text tokens (pads excluded), labelled = positions
 * with a label, changed[a] = labels differing from the actual next token. */
int labels_generate(Llama *base, Llama *reinf, const Tokenizer *tok, const AnchorDict *d,
                    const TokenStream *target, const LabelConfig *c, const char *path,
                    LabelStats *st, ObErr *err);

/* A labels file opened for reading (memory-mapped). */
typedef struct {
    LabelsHeader h;
    const uint8_t *map;
    size_t size, block_bytes;
    char *path;
} LabelsFile;

/* Opens and validates: magic, version, sizes, exact file length, and the
 * vocabulary hash against tok (NULL skips that check). */
int labels_open(LabelsFile *lf, const char *path, const Tokenizer *tok, ObErr *err);
void labels_close(LabelsFile *lf);
/* Index of alpha in the file, or -1. */
int labels_alpha_index(const LabelsFile *lf, float alpha);
/* Pointers into block b: tokens, hard labels for alpha index a, and (soft
 * files) the soft record base for alpha a (block x (k ids, k probs, rest)). */
const int32_t *labels_tokens(const LabelsFile *lf, uint64_t b);
const int32_t *labels_hard(const LabelsFile *lf, uint64_t b, int a);
const uint8_t *labels_soft(const LabelsFile *lf, uint64_t b, int a);

#endif
