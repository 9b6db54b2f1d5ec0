/* Anchor extraction: proposes an anchor dictionary (anchors.h) from the
 * target text itself, with no external model -- obliviate's own addition to
 * the WHP method (../shared/guide/whp-method.md, step 2). The result is for a
 * person to review; every proposal carries its evidence.
 *
 * 1. Candidates. Words are runs of letters (ASCII letters and non-ASCII
 *    characters other than Latin-1 punctuation and the General Punctuation
 *    block) with apostrophes (' or U+2019) or hyphens inside; a trailing
 *    possessive 's is dropped ("Roylott's" counts as "Roylott"). A word is a
 *    name when, among its occurrences in T that do not start a sentence
 *    (after . ! ? -- not after an abbreviation such as "Mr." or an initial
 *    -- a blank line or the text's start, quotes and brackets skipped), the
 *    capitalised ones are more than the lower-case ones; its key is then the
 *    capitalised form and its counts (in T and G) are those of capitalised
 *    occurrences. Other words are counted in any case but all caps, so a word
 *    capitalised only at sentence starts ("Then", "Afterwards") is an
 *    ordinary word and never a name; it is keyed in lower case, or in the
 *    capitalised form when T never has it in lower case ("Ah"). All-caps
 *    words (headings) are not counted. Multi-word names: 2 or 3 consecutive
 *    capitalised words of one sentence, one space apart ("Baker Street",
 *    "Upper Swandam Lane"; "St." keeps its period: "St. Simon"), none of them
 *    a function word or a title (the run starts after "Mr." or "Lord"), the
 *    first not sentence-initial unless it is a name; counted wherever the
 *    exact phrase occurs in T and in G. Function words, titles, place words
 *    (Street, Lodge, Yard, ...: generic on their own) and keys shorter than 2
 *    letters are never single-word keys.
 *
 * 2. Statistics: the log-odds ratio with an informative Dirichlet prior
 *    (Monroe, Colaresi & Quinn 2008, "Fightin' Words"). For counts y_T, y_G of
 *    a candidate among n_T, n_G words:
 *        a = alpha0 * (y_T + y_G) / (n_T + n_G)
 *        delta = log((y_T + a) / (n_T + alpha0 - y_T - a))
 *              - log((y_G + a) / (n_G + alpha0 - y_G - a))
 *        sigma = sqrt(1 / (y_T + a) + 1 / (y_G + a)),  z = delta / sigma.
 *    alpha0 defaults to n_T: a prior as strong as the target itself. A much
 *    smaller one (1000) leaves a word absent from G with a prior count of
 *    about 0.01, so its sigma is about 10 and no name unique to the target can
 *    reach z = 2. Candidates need y_T >= min_count and z > 2. They are ranked
 *    by the lower end of delta's interval, lb = delta - 2 sigma, not by z: z
 *    says how sure we are that T uses a word more at all, which frequent
 *    generic words win ("door": z 18 on the demo), lb says how much more it
 *    uses it at least, which favours terms rare outside T ("Lestrade": lb
 *    4.5, "door": 1.4).
 *
 * 3. Model evidence, for the best 3 * top candidates by lb (when a base model
 *    is given): at up to max_occ occurrences in T (evenly spread), the
 *    log-probability of the candidate's first token given what precedes it
 *    (windows of the model's context, stride 7/8 of it, so every scored
 *    position but those of the first window sees at least 1/8 of a context).
 *    With a reinforced model R: e = mean(log p_R - log p_B), R's extra
 *    confidence. Without: e = mean(log p_B) - log((y_G + 0.5) / n_G), how much
 *    better B predicts the term in the target's context than its frequency in
 *    general text would. Final score: standardised lb + model_weight *
 *    standardised e (means and standard deviations over the scored
 *    candidates; an unscored candidate counts as average evidence). Keys are
 *    output by final score, at most `top`, after dropping multi-word keys all
 *    of whose words are output keys too (anchors_load would prune them).
 *
 * 4. Values. People: a name candidate (ending in no place word) that follows
 *    a title (Mr., Mrs., Miss, Dr., Lord, Lady, Sir, Inspector, Colonel, ...;
 *    for a multi-word name: the name or one of its words), or whose first
 *    word is in a first-name list (a single word only when it never ends a
 *    name that no listed first name starts: not "Star" of "Lone Star"), or
 *    that ends names started by a listed first name at least twice ("John
 *    Horner"), or stands next to a speech verb ("said Lestrade") at least
 *    twice. Runs ending in a place word give no evidence about people. Each
 *    word of a person's name is a first name (it starts multi-word names more
 *    often than it ends them or follows a title alone, or, evidence equal, it
 *    is in a list) or a surname; every such word gets its own replacements,
 *    so "Irene Adler" -> "Mary Cole" exactly when "Irene" -> "Mary" and
 *    "Adler" -> "Cole" ("St." stays). Gender of a first name: titles first
 *    (Mrs., Miss, Lady, ... female; Mr., Sir, Lord, ... male), then the lists
 *    (female only / male only), then she/her/hers vs he/him/his in the 12
 *    words after its occurrences; default male. First names come from the
 *    list of that gender, surnames from a built-in list of common English
 *    surnames; never a name occurring in T (in any case) or in both lists;
 *    names seen 3+ times in G are preferred when there are 30 such (at most
 *    the 300 most frequent); each word draws from them with a generator
 *    seeded by (seed, word), avoiding names already given to another word
 *    until none is left.
 *    Other terms: B's own substitutes -- at up to 8 occurrences, B's 32 most
 *    likely tokens at the term's first token, kept when a token is a space
 *    and a whole word that occurs in G at least 3 times, in the term's case
 *    (capitalised or not), not a function word, title or capitalised name of
 *    T, not usually the first word of a longer name in G ("New" of "New
 *    York"), and neither a prefix of the term or of any candidate key nor
 *    extended by one; ranked by summed probability. A multi-word term keeps
 *    its later words that are common in G (10+ times: "Street", "Lodge")
 *    after the substitute of its first. Missing values come from a built-in
 *    list of generic English place names (capitalised terms) or the
 *    lower-case words most frequent in G that T never uses, drawn with the
 *    seed.
 *
 * Everything is deterministic for the same inputs, seed and thread count. */
#ifndef OB_EXTRACT_H
#define OB_EXTRACT_H

#include <stddef.h>
#include <stdint.h>

#include "model/llama.h"
#include "text/tokenizer.h"
#include "util/err.h"

typedef struct {
    const char *name; /* for messages and the report */
    const char *data; /* UTF-8 */
    size_t len;
} ExtractText;

/* A list of names, one a line (data/names-female.txt): blank lines skipped,
 * whitespace trimmed. */
typedef struct {
    char **names;
    int n;
} NameList;

int extract_names_parse(NameList *l, const char *text, size_t len, ObErr *err);
void extract_names_free(NameList *l);

typedef struct {
    int top;             /* keys in the output (200) */
    int min_count;       /* occurrences in T a candidate needs (3) */
    double alpha0;       /* prior strength; <= 0: the target's word count */
    double model_weight; /* weight of the standardised model evidence (0.5) */
    int n_values;        /* values per key (3) */
    int max_occ;         /* occurrences per candidate the models score (32) */
    int batch;           /* windows per forward pass (8) */
    uint64_t seed;       /* for the choice of names (1) */
    int verbose;         /* progress on stderr */
} ExtractConfig;

void extract_config_default(ExtractConfig *c);

typedef struct {
    const ExtractText *target;
    int n_target;
    const ExtractText *general;
    int n_general;
    Llama *base;           /* optional: model evidence and substitutes */
    Llama *reinforced;     /* optional, needs base; same vocabulary */
    const Tokenizer *tok;  /* base's tokenizer; required with base */
    const NameList *names; /* [0] female, [1] male; NULL or empty: built-in short lists */
} ExtractInput;

typedef enum { EXTRACT_OTHER, EXTRACT_PERSON } ExtractKind;

typedef struct {
    char *key;
    char **values;
    int n_values;
    int n_words;
    ExtractKind kind;
    int gender;              /* people: 1 female, 0 male, -1 no first name in the key */
    char why[96];            /* why a person: "title Mrs.", "first-name list", ... */
    long count_t, count_g;   /* occurrences in T and G */
    double delta, sigma, z;  /* log-odds statistics */
    double lb;               /* delta - 2 sigma */
    int n_evidence;          /* occurrences the models scored (0: none) */
    double evidence;         /* model evidence e (see above) */
    double final;            /* ranking score */
    char **substitutes;      /* other terms: the base model's accepted substitutes */
    double *substitute_mass; /* their summed probabilities */
    int n_substitutes;
} ExtractProposal;

typedef struct {
    ExtractProposal *p; /* by final score, best first */
    int n;
    long n_t, n_g;        /* words in T and G */
    double alpha0;        /* the prior strength used */
    long n_candidates;    /* candidates that passed count and z */
    int n_scored;         /* candidates with model evidence */
    const char *evidence; /* "reinforced-minus-base", "base-minus-general-unigram", "none" */
    double seconds_count; /* counting and statistics */
    double seconds_model; /* model passes */
    double seconds_total;
} ExtractResult;

/* Runs the whole extraction. On failure *r holds nothing to free. */
int extract_run(const ExtractInput *in, const ExtractConfig *c, ExtractResult *r, ObErr *err);
void extract_free(ExtractResult *r);

/* The log-odds statistics above for one count table; returns z. */
double extract_log_odds(double y_t, double y_g, double n_t, double n_g, double alpha0,
                        double *delta, double *sigma);

/* The dictionary as JSON text, keys in rank order ({"key": [values], ...});
 * caller frees. NULL when out of memory. */
char *extract_dict_json(const ExtractResult *r);
/* Writes the dictionary atomically after checking that anchors_parse reads
 * it back with every key. */
int extract_save(const ExtractResult *r, const char *path, ObErr *err);

/* Expected entities (a test list): lines "ENTITY" or "ENTITY<TAB>HEAD|HEAD";
 * '#' lines and blank lines skipped. An entity is found when the entity
 * itself or one of its heads is exactly (case-sensitively) one of the
 * result's keys. Sets *found and *total; misses gets a newly allocated
 * comma-separated list (caller frees). */
int extract_expect(const ExtractResult *r, const char *text, size_t len, int *found, int *total,
                   char **misses, ObErr *err);

/* The report (parameters, timings, every proposal with its evidence) as JSON
 * text; caller frees. expect_text may be NULL. */
char *extract_report_json(const ExtractResult *r, const char *expect_text, size_t expect_len);

#endif
