/* What the extractor's files share (unlearn/extract_*.c): the tuning
 * constants, the word and phrase tables, the scanned words, the candidates
 * and the context of one run. Not part of the API; extract.h is. */
#ifndef OB_EXTRACT_INTERNAL_H
#define OB_EXTRACT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "unlearn/extract.h"
#include "util/strindex.h"

struct cJSON;

#define MAX_WORD 96      /* longer "words" (no spaces for pages) are not counted */
#define PRON_WINDOW 12   /* words after a name in which pronouns count */
#define SUBST_OCC 8      /* occurrences whose predictions give substitutes */
#define SUBST_TOP 32     /* predictions looked at per occurrence */
#define SUBST_MIN_G 3    /* a substitute occurs in G at least this often */
#define TAIL_MIN_G 10    /* a later word of a multi-word term kept when this common in G */
#define POOL_MAX 300     /* names drawn from (the most frequent in G) */
#define POOL_MIN_G 3     /* only names seen this often in G ... */
#define POOL_ENOUGH 30   /* ... when at least this many are */
#define FALLBACK_POOL 50 /* fallback words drawn from */
#define LB_SIGMAS 2.0    /* lb = delta - LB_SIGMAS * sigma */

enum { W_OTHER, W_CAP, W_LOW, W_ALLCAPS };
enum {
    F_STOP = 1,
    F_SPEECH = 2,
    F_PLACE = 4,
    F_HE = 8,
    F_SHE = 16,
    F_ABBREV = 32,
    F_FEMALE = 64, /* in the female first-name list */
    F_MALE = 128,  /* in the male first-name list */
    F_ST = 256,    /* "st": Saint, part of names */
};

/* One distinct word (by its lower-case fold), with its counts and the
 * evidence gathered from the target. */
typedef struct {
    char *fold;
    char *cap;      /* the first capitalised form seen (T before G), or NULL */
    long cnt[2][2]; /* [T, G][capitalised, lower case] */
    long mid[2][2]; /* the same, not at a sentence start */
    long g_lead;    /* in G, capitalised and followed by another capitalised word */
    int flags;
    int title; /* title class + 1; 0: not a title */
    int is_name;
    int title_n[3];    /* runs it starts, after a female / male / either title */
    int titled;        /* in runs after a title */
    int titled_single; /* one-word runs after a title */
    int run_first, run_last;
    int after_first; /* ends a name whose first word is in a first-name list */
    int speech, he, she;
    int occ_cls;       /* the class (W_CAP, W_LOW) of the key's occurrences */
    int32_t first_occ; /* first T word (chain through next_occ), -1 */
    int32_t last_occ;
    char **map; /* people: its replacements (n_values), drawn once */
    int map_role;
} WordEnt;

/* A multi-word name of the target. */
typedef struct {
    char *text;
    int n_words;
    int32_t went[3];
    long cnt[2];
    int titled, title_n[3];
    int speech;
    int32_t *occ; /* T words where it starts */
    int n_occ;
    size_t cap_occ;
} Phrase;

/* One word of a scanned text. */
typedef struct {
    uint32_t start; /* byte offset */
    uint16_t len;   /* bytes of the word, possessive excluded */
    uint16_t flen;  /* bytes including a possessive 's */
    uint8_t cls, init, join;
    int32_t ent; /* WordEnt, or -1 */
    int32_t file;
} Word;

typedef struct {
    WordEnt *w;
    int32_t n;
    size_t cap;
    StrIndex idx;
    Phrase *ph;
    int32_t n_ph;
    size_t cap_ph;
    StrIndex ph_idx;
} Tables;

static inline int is_upper(unsigned char c) {
    return c >= 'A' && c <= 'Z';
}
static inline int is_lower(unsigned char c) {
    return c >= 'a' && c <= 'z';
}

typedef struct {
    char **s;
    int n;
    uint8_t *used;
} Pool;

typedef struct {
    char *word;
    double mass;
} Subst;

typedef struct {
    char *key;
    int32_t phrase; /* or -1 */
    int32_t ent;    /* single word, or -1 */
    int n_words;
    int32_t went[3];
    long yt, yg;
    double delta, sigma, z, lb;
    int32_t *occ; /* T words where the key's form occurs (not owned for phrases) */
    int n_occ;
    int scored;
    double e_sum;
    int n_e;
    double final;
    int person, gender;
    char why[96];
    Subst *sub;
    int n_sub;
    size_t cap_sub;
    int selected;
} Cand;

typedef struct {
    const ExtractInput *in;
    const ExtractConfig *c;
    Tables t;
    Word *tw; /* the target's words, all files */
    size_t n_tw;
    int32_t *next_occ; /* (n_tw) chain of a word's occurrences */
    long n_t, n_g;
    Cand *cand;
    int n_cand, cap_cand;
    char **key_firsts; /* sorted first words of all candidate keys */
    Pool pool[3];      /* female first names, male first names, surnames */
    Pool fallback[2];  /* capitalised, lower-case words of G absent from T */
} Ctx;

/* ---- extract_words.c ---- */

/* NULL-terminated lists the other files draw on. */
extern const char *const ex_abbrev_list[];
extern const char *const ex_builtin_female[], *const ex_builtin_male[];
extern const char *const ex_surname_list[];
extern const char *const ex_place_name_list[];
/* Flags the table's words from the built-in lists and the first-name lists. */
int ex_setup_lists(Ctx *x, const char *const *female, int nf, const char *const *male, int nm,
                   ObErr *err);

/* ---- extract_tables.c ---- */

int32_t ex_word_find(const Tables *t, const char *fold);
/* The entry of fold, added when new; -1 when out of memory. */
int32_t ex_word_get(Tables *t, const char *fold, ObErr *err);
int32_t ex_phrase_find(const Tables *t, const char *text);
int32_t ex_phrase_get(Tables *t, const char *text, ObErr *err);
void ex_tables_free(Tables *t, int n_values);
int ex_add_flag_words(Tables *t, const char *const *list, int flag, ObErr *err);

/* ---- extract_scan.c ---- */

size_t ex_norm_word(const char *s, size_t n, int lower, char *out);
int ex_scan_words(const char *text, size_t n, int32_t file, Word **words, size_t *n_words,
                  ObErr *err);

/* ---- extract_count.c ---- */

int ex_scan_target(Ctx *x, ObErr *err);
int ex_find_runs(Ctx *x, ObErr *err);
int ex_count_target_phrases(Ctx *x, ObErr *err);
int ex_count_general(Ctx *x, ObErr *err);

/* ---- extract_stats.c ---- */

int ex_make_candidates(Ctx *x, double alpha0, ObErr *err);
int ex_candidate_occurrences(Ctx *x, ObErr *err);
int ex_key_firsts(Ctx *x, ObErr *err);
int ex_rank_candidates(Ctx *x, int n_scored, ObErr *err);
void ex_select_top(Ctx *x, int top);
void ex_free_cands(Ctx *x);

/* ---- extract_people.c ---- */

int ex_first_name_role(const WordEnt *e);
int ex_word_gender(const WordEnt *e);
void ex_classify(Ctx *x, Cand *k);

/* ---- extract_names.c ---- */

int ex_ascii_name(const char *s);
long ex_g_count(const Ctx *x, const char *word, int cap);
int ex_build_pool(Ctx *x, Pool *p, const char *const *names, int n, ObErr *err);
int ex_build_fallback(Ctx *x, ObErr *err);
void ex_pool_free(Pool *p);
int ex_pool_draw(Pool *p, uint64_t seed, const char *what, int n, int exclusive, const char **out);
char **ex_word_map(Ctx *x, int32_t ent, ObErr *err);

/* ---- extract_evidence.c ---- */

int ex_model_evidence(Ctx *x, int n_scored, ExtractResult *r, ObErr *err);

/* ---- extract_values.c ---- */

int ex_make_proposals(Ctx *x, ExtractResult *r, ObErr *err);

/* ---- extract_expect.c ---- */

/* The report's "expected" object for the entity list, or NULL. */
struct cJSON *ex_expect_json(const ExtractResult *r, const char *text, size_t len);

#endif
