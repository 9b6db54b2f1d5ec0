/* Anchor extraction: candidates from the target's words and names, the
 * log-odds statistics, person evidence, the model passes and the proposed
 * values. See extract.h for the method and its heuristics. */
#include "unlearn/extract.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unlearn/anchors.h"
#include "util/fileio.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/progress.h"
#include "util/rng.h"
#include "util/strindex.h"

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

/* ---- built-in word lists -------------------------------------------- */

static const char *const stop_list[] = {
    "a",        "about",     "above",     "after",     "again",      "against",  "ago",
    "all",      "almost",    "also",      "although",  "always",     "am",       "among",
    "an",       "and",       "another",   "any",       "anyone",     "anything", "are",
    "aren't",   "around",    "as",        "at",        "away",       "be",       "because",
    "been",     "before",    "being",     "below",     "beside",     "besides",  "between",
    "beyond",   "both",      "but",       "by",        "can",        "can't",    "cannot",
    "could",    "couldn't",  "did",       "didn't",    "do",         "does",     "doesn't",
    "doing",    "don't",     "done",      "down",      "during",     "each",     "eight",
    "either",   "else",      "enough",    "ever",      "every",      "few",      "first",
    "five",     "for",       "four",      "from",      "further",    "had",      "hadn't",
    "has",      "hasn't",    "have",      "haven't",   "having",     "he",       "he'd",
    "he'll",    "her",       "here",      "hers",      "herself",    "him",      "himself",
    "his",      "how",       "however",   "i",         "i'd",        "i'll",     "i'm",
    "i've",     "if",        "in",        "indeed",    "into",       "is",       "isn't",
    "it",       "its",       "itself",    "just",      "least",      "less",     "let",
    "like",     "many",      "may",       "me",        "might",      "mine",     "more",
    "most",     "much",      "must",      "mustn't",   "my",         "myself",   "neither",
    "never",    "next",      "nine",      "no",        "nor",        "not",      "nothing",
    "now",      "of",        "off",       "often",     "oh",         "on",       "once",
    "one",      "only",      "or",        "other",     "others",     "ought",    "our",
    "ours",     "ourselves", "out",       "over",      "own",        "perhaps",  "quite",
    "rather",   "same",      "second",    "seven",     "shall",      "shan't",   "she",
    "she'd",    "she'll",    "should",    "shouldn't", "since",      "six",      "so",
    "some",     "someone",   "something", "still",     "such",       "ten",      "than",
    "that",     "the",       "thee",      "their",     "theirs",     "them",     "themselves",
    "then",     "there",     "these",     "they",      "they'd",     "they'll",  "they're",
    "they've",  "thing",     "third",     "this",      "those",      "thou",     "though",
    "three",    "through",   "thus",      "thy",       "till",       "to",       "together",
    "too",      "toward",    "towards",   "two",       "under",      "unless",   "until",
    "up",       "upon",      "us",        "very",      "was",        "wasn't",   "we",
    "we'd",     "we'll",     "we're",     "we've",     "were",       "weren't",  "what",
    "whatever", "when",      "whence",    "where",     "whether",    "which",    "while",
    "whilst",   "who",       "whoever",   "whole",     "whom",       "whose",    "why",
    "will",     "with",      "within",    "without",   "won't",      "would",    "wouldn't",
    "ye",       "yes",       "yet",       "you",       "you'd",      "you'll",   "you're",
    "you've",   "your",      "yours",     "yourself",  "yourselves", NULL};

/* Titles before a name: class 0 female, 1 male, 2 either. */
static const char *const title_list[3][20] = {
    {"mrs", "miss", "ms", "lady", "dame", "madam", "madame", "mme", "mlle", "mademoiselle",
     "countess", "duchess", "queen", "princess", "mistress", "aunt", NULL},
    {"mr", "sir", "lord", "count", "baron", "duke", "king", "prince", "master", "uncle", "messrs",
     NULL},
    {"dr", "doctor", "inspector", "colonel", "captain", "major", "general", "sergeant", "professor",
     "prof", "rev", "reverend", "judge", "constable", "mister", NULL},
};

/* Abbreviations whose period does not end a sentence. */
static const char *const abbrev_list[] = {
    "mr",   "mrs", "ms",   "dr",  "st", "messrs", "mme", "mlle", "jr",  "sr", "rev",
    "prof", "col", "capt", "gen", "lt", "sgt",    "no",  "vs",   "esq", "co", NULL};

static const char *const speech_list[] = {
    "said",    "says",     "asked",     "cried",      "answered", "remarked",
    "replied", "observed", "continued", "exclaimed",  "shouted",  "whispered",
    "added",   "returned", "murmured",  "ejaculated", NULL};

/* Last words that make a name a place or an institution, not a person. */
static const char *const place_list[] = {
    "street",    "road",       "lane",    "square",  "lodge",     "house",       "hall",
    "valley",    "yard",       "bridge",  "court",   "place",     "pool",        "station",
    "park",      "church",     "hotel",   "league",  "company",   "bank",        "club",
    "society",   "inn",        "arms",    "terrace", "gardens",   "avenue",      "hill",
    "cross",     "abbey",      "manor",   "castle",  "college",   "school",      "river",
    "mountain",  "mountains",  "city",    "county",  "town",      "village",     "island",
    "islands",   "sea",        "ocean",   "lake",    "hospital",  "office",      "museum",
    "row",       "walk",       "grange",  "farm",    "wood",      "green",       "heath",
    "common",    "gate",       "tower",   "palace",  "theatre",   "works",       "mills",
    "docks",     "wharf",      "market",  "circus",  "crescent",  "close",       "mews",
    "alley",     "union",      "railway", "line",    "brothers",  "corporation", "association",
    "institute", "university", "army",    "navy",    "klan",      "party",       "department",
    "street's",  "states",     "kingdom", "empire",  "republic",  "coast",       "bay",
    "point",     "port",       "harbour", "harbor",  "cathedral", "chapel",      "prison",
    "gaol",      "jail",       NULL};

static const char *const he_list[] = {"he", "him", "his", "himself", NULL};
static const char *const she_list[] = {"she", "her", "hers", "herself", NULL};

/* Used when no first-name lists are given. */
static const char *const builtin_female[] = {
    "Mary",  "Anne",  "Margaret", "Elizabeth", "Jane",    "Alice",   "Emily", "Ellen",
    "Clara", "Grace", "Lucy",     "Rose",      "Edith",   "Martha",  "Sarah", "Emma",
    "Agnes", "Ada",   "Laura",    "Kate",      "Harriet", "Louisa",  "Fanny", "Nora",
    "Amy",   "Ruth",  "Esther",   "Ida",       "Mabel",   "Dorothy", NULL};
static const char *const builtin_male[] = {
    "John",    "William", "James", "George",  "Charles",   "Thomas", "Henry",   "Robert",
    "Edward",  "Joseph",  "Frank", "Walter",  "Arthur",    "Albert", "Samuel",  "David",
    "Richard", "Peter",   "Harry", "Alfred",  "Frederick", "Ernest", "Francis", "Herbert",
    "Louis",   "Paul",    "Ralph", "Stephen", "Daniel",    "Philip", NULL};

/* Common English surnames, for the surnames of people. */
static const char *const surname_list[] = {
    "Smith",      "Jones",      "Taylor",   "Brown",     "Williams",  "Wilson",     "Johnson",
    "Davies",     "Robinson",   "Wright",   "Thompson",  "Evans",     "Walker",     "White",
    "Roberts",    "Green",      "Hall",     "Wood",      "Jackson",   "Clarke",     "Harris",
    "Lewis",      "Martin",     "Cooper",   "King",      "Lee",       "Baker",      "Harrison",
    "Morgan",     "Allen",      "Scott",    "Phillips",  "Watson",    "Davis",      "Parker",
    "Price",      "Bennett",    "Young",    "Griffiths", "Mitchell",  "Kelly",      "Cook",
    "Carter",     "Richardson", "Bailey",   "Collins",   "Bell",      "Shaw",       "Murphy",
    "Miller",     "Cox",        "Richards", "Marshall",  "Anderson",  "Simpson",    "Ellis",
    "Adams",      "Wilkinson",  "Foster",   "Chapman",   "Powell",    "Webb",       "Rogers",
    "Gray",       "Mason",      "Hunt",     "Campbell",  "Matthews",  "Owen",       "Palmer",
    "Holmes",     "Mills",      "Barnes",   "Knight",    "Lloyd",     "Butler",     "Russell",
    "Barker",     "Fisher",     "Stevens",  "Jenkins",   "Murray",    "Dixon",      "Harvey",
    "Graham",     "Pearson",    "Ward",     "Fletcher",  "Hughes",    "Morris",     "Turner",
    "Moore",      "Clark",      "Hill",     "Edwards",   "Lambert",   "Reed",       "Cole",
    "Hayes",      "Grant",      "Warren",   "Spencer",   "Porter",    "Dawson",     "Hudson",
    "Fox",        "Rose",       "Stone",    "Lane",      "Ford",      "Hart",       "Day",
    "Nash",       "Burton",     "Gibson",   "Howard",    "Carr",      "Norris",     "Lowe",
    "Andrews",    "Armstrong",  "Atkins",   "Austin",    "Banks",     "Barber",     "Barlow",
    "Barrett",    "Bates",      "Baxter",   "Beck",      "Bishop",    "Blake",      "Bolton",
    "Bond",       "Booth",      "Bower",    "Bradley",   "Brooks",    "Bryant",     "Buckley",
    "Bull",       "Burgess",    "Burns",    "Bush",      "Byrne",     "Cartwright", "Chambers",
    "Clayton",    "Coleman",    "Conway",   "Cross",     "Curtis",    "Dale",       "Dalton",
    "Daniels",    "Dean",       "Dennis",   "Doyle",     "Drake",     "Duncan",     "Dunn",
    "Eaton",      "Elliott",    "Farmer",   "Field",     "Fleming",   "Francis",    "Frost",
    "Fuller",     "Gardner",    "Garner",   "Gilbert",   "Goodwin",   "Gordon",     "Gough",
    "Greaves",    "Hamilton",   "Hammond",  "Hancock",   "Hardy",     "Harper",     "Hartley",
    "Hawkins",    "Haynes",     "Heath",    "Henderson", "Hewitt",    "Hicks",      "Hobbs",
    "Hodges",     "Holland",    "Holt",     "Hopkins",   "Horton",    "Houghton",   "Hurst",
    "Hutchinson", "Ingram",     "Jarvis",   "Jennings",  "Kemp",      "Kerr",       "Kirby",
    "Lawrence",   "Lawson",     "Lester",   "Little",    "Long",      "Lucas",      "Lynch",
    "Manning",    "Marsh",      "May",      "Metcalfe",  "Middleton", "Miles",      "Moss",
    "Newman",     "Newton",     "Nicholls", "Norman",    "North",     "Oliver",     "Osborne",
    "Page",       "Parkinson",  "Parsons",  "Payne",     "Perkins",   "Perry",      "Peters",
    "Pickering",  "Pollard",    "Poole",    "Potter",    "Pratt",     "Preston",    "Quinn",
    "Randall",    "Read",       "Reeves",   "Reid",      "Reynolds",  "Rhodes",     "Rice",
    "Riley",      "Robertson",  "Rowe",     "Sanders",   "Saunders",  "Sharp",      "Shepherd",
    "Short",      "Sims",       "Slater",   "Smart",     "Stanley",   "Steele",     "Stephens",
    "Stewart",    "Sutton",     "Swift",    "Tucker",    "Tyler",     "Vaughan",    "Wade",
    "Wall",       "Walsh",      "Walters",  "Warner",    "Waters",    "Watts",      "Weaver",
    "Welch",      "West",       "Wheeler",  "Whitehead", "Wiley",     "Willis",     "Winter",
    "Wyatt",      "Yates",      NULL};

/* Generic English place names: values for capitalised terms that are not people when the
 * base model offers no substitute. */
static const char *const place_name_list[] = {
    "Ashford",  "Ashby",      "Bamford",   "Bedford", "Belford",  "Bramley",   "Brampton",
    "Burford",  "Carlton",    "Chalford",  "Clifton", "Crawley",  "Dalby",     "Denton",
    "Easton",   "Elmley",     "Fairfield", "Farley",  "Farnham",  "Felton",    "Fenwick",
    "Gransden", "Greenfield", "Hadley",    "Hampton", "Harlow",   "Hartford",  "Hatfield",
    "Hilton",   "Holbrook",   "Horley",    "Kelby",   "Kingsley", "Langley",   "Lindley",
    "Linton",   "Lynford",    "Marlow",    "Melton",  "Milford",  "Milton",    "Newbury",
    "Oakley",   "Oldbury",    "Padley",    "Pendle",  "Radford",  "Redbourne", "Ripley",
    "Rockford", "Rowley",     "Selby",     "Shelton", "Stanton",  "Stratford", "Thornton",
    "Upton",    "Walton",     "Wareham",   "Weston",  "Whitby",   "Wickham",   "Winslow",
    "Woodford", "Wyndham",    "Yardley",   NULL};

/* ---- words ----------------------------------------------------------- */

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
    int n_occ, cap_occ;
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
    int32_t n, cap;
    StrIndex idx;
    Phrase *ph;
    int32_t n_ph, cap_ph;
    StrIndex ph_idx;
} Tables;

static const char *went_key(const void *ctx, int32_t i) {
    return ((const Tables *)ctx)->w[i].fold;
}
static const char *phrase_key(const void *ctx, int32_t i) {
    return ((const Tables *)ctx)->ph[i].text;
}

static int32_t word_find(const Tables *t, const char *fold) {
    return strindex_find(&t->idx, fold, went_key, t);
}

static int32_t word_get(Tables *t, const char *fold, ObErr *err) {
    int32_t i = word_find(t, fold);
    if (i >= 0) return i;
    if (t->n == t->cap) {
        int32_t cap = t->cap ? t->cap * 2 : 4096;
        WordEnt *w = realloc(t->w, (size_t)cap * sizeof *w);
        if (!w) return ob_errf(err, "out of memory for %d words", cap), -1;
        t->w = w;
        t->cap = cap;
    }
    if (strindex_reserve(&t->idx, t->n, t->n + 1, went_key, t, err)) return -1;
    WordEnt *e = &t->w[t->n];
    memset(e, 0, sizeof *e);
    e->fold = strdup(fold);
    if (!e->fold) return ob_errf(err, "out of memory"), -1;
    e->first_occ = e->last_occ = -1;
    strindex_put(&t->idx, fold, t->n);
    return t->n++;
}

static int32_t phrase_find(const Tables *t, const char *text) {
    return strindex_find(&t->ph_idx, text, phrase_key, t);
}

static int32_t phrase_get(Tables *t, const char *text, ObErr *err) {
    int32_t i = phrase_find(t, text);
    if (i >= 0) return i;
    if (t->n_ph == t->cap_ph) {
        int32_t cap = t->cap_ph ? t->cap_ph * 2 : 1024;
        Phrase *p = realloc(t->ph, (size_t)cap * sizeof *p);
        if (!p) return ob_errf(err, "out of memory for %d names", cap), -1;
        t->ph = p;
        t->cap_ph = cap;
    }
    if (strindex_reserve(&t->ph_idx, t->n_ph, t->n_ph + 1, phrase_key, t, err)) return -1;
    Phrase *p = &t->ph[t->n_ph];
    memset(p, 0, sizeof *p);
    p->text = strdup(text);
    if (!p->text) return ob_errf(err, "out of memory"), -1;
    strindex_put(&t->ph_idx, text, t->n_ph);
    return t->n_ph++;
}

static void tables_free(Tables *t, int n_values) {
    for (int32_t i = 0; i < t->n; i++) {
        free(t->w[i].fold);
        free(t->w[i].cap);
        for (int k = 0; t->w[i].map && k < n_values; k++) free(t->w[i].map[k]);
        free(t->w[i].map);
    }
    for (int32_t i = 0; i < t->n_ph; i++) free(t->ph[i].text), free(t->ph[i].occ);
    free(t->w);
    free(t->ph);
    strindex_free(&t->idx);
    strindex_free(&t->ph_idx);
    memset(t, 0, sizeof *t);
}

static int add_flag_words(Tables *t, const char *const *list, int flag, ObErr *err) {
    for (int i = 0; list[i]; i++) {
        int32_t k = word_get(t, list[i], err);
        if (k < 0) return -1;
        t->w[k].flags |= flag;
    }
    return 0;
}

static int is_upper(unsigned char c) {
    return c >= 'A' && c <= 'Z';
}
static int is_lower(unsigned char c) {
    return c >= 'a' && c <= 'z';
}

/* Bytes of the letter at p, or 0: ASCII letters and non-ASCII characters
 * other than Latin-1 punctuation (U+0080..U+00BF, U+00D7, U+00F7) and the
 * General Punctuation block (U+2000..U+207F). */
static int letter_len(const unsigned char *p, const unsigned char *end) {
    unsigned c = p[0];
    if (c < 0x80) return is_upper((unsigned char)c) || is_lower((unsigned char)c);
    int n = c >= 0xF8 ? 0 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    if (!n || end - p < n) return 0;
    for (int k = 1; k < n; k++)
        if ((p[k] & 0xC0) != 0x80) return 0;
    if (c == 0xC2) return 0;
    if (c == 0xC3 && (p[1] == 0x97 || p[1] == 0xB7)) return 0;
    if (c == 0xE2 && (p[1] == 0x80 || p[1] == 0x81)) return 0;
    return n;
}

/* Bytes of an in-word joiner at p: ' or U+2019 or -; else 0. */
static int joiner_len(const unsigned char *p, const unsigned char *end) {
    if (*p == '\'' || *p == '-') return 1;
    if (end - p >= 3 && p[0] == 0xE2 && p[1] == 0x80 && p[2] == 0x99) return 3;
    return 0;
}

/* Copies a word with U+2019 as ' (and in lower case when `lower`); returns
 * the length. out holds MAX_WORD + 1 bytes. */
static size_t norm_word(const char *s, size_t n, int lower, char *out) {
    size_t k = 0;
    for (size_t i = 0; i < n && k < MAX_WORD; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == 0xE2 && i + 2 < n && (unsigned char)s[i + 1] == 0x80 &&
            (unsigned char)s[i + 2] == 0x99) {
            out[k++] = '\'';
            i += 2;
        } else {
            out[k++] = (char)(lower && is_upper(c) ? c + 32 : c);
        }
    }
    out[k] = 0;
    return k;
}

static int in_list_ci(const char *s, size_t n, const char *const *list) {
    for (int i = 0; list[i]; i++)
        if (strlen(list[i]) == n && !strncasecmp(s, list[i], n)) return 1;
    return 0;
}

/* Does the word starting at byte s begin a sentence? Looks back over spaces,
 * quotes and brackets: the text's start, a blank line, or . ! ? (a period
 * after an abbreviation or a single capital letter excepted) mean yes. */
static int sentence_initial(const char *t, size_t s) {
    const unsigned char *u = (const unsigned char *)t;
    size_t j = s;
    int newlines = 0;
    while (j > 0) {
        unsigned char c = u[j - 1];
        if (c == '\n') {
            newlines++, j--;
        } else if (c == ' ' || c == '\t' || c == '\r' || c == '"' || c == '\'' || c == '(' ||
                   c == '[' || c == '_' || c == '*') {
            j--;
        } else if (j >= 3 && u[j - 3] == 0xE2 && u[j - 2] == 0x80 && c >= 0x98 && c <= 0x9D) {
            j -= 3; /* curly quotes */
        } else {
            break;
        }
    }
    if (j == 0 || newlines >= 2) return 1;
    unsigned char c = u[j - 1];
    if (c == '!' || c == '?') return 1;
    if (c != '.') return 0;
    size_t e = j - 1, b = e;
    while (b > 0 && (is_upper(u[b - 1]) || is_lower(u[b - 1]))) b--;
    if (e - b == 1 && is_upper(u[b])) return 0;
    return !(e > b && in_list_ci(t + b, e - b, abbrev_list));
}

/* The words of text[0, n), with class, sentence start and joins filled in;
 * ent = -1. *words is a new array. */
static int scan_words(const char *text, size_t n, int32_t file, Word **words, size_t *n_words,
                      ObErr *err) {
    const unsigned char *p = (const unsigned char *)text, *end = p + n;
    size_t cap = n / 6 + 16, k = 0;
    Word *w = ob_malloc(cap * sizeof *w, "words", err);
    if (!w) return -1;
    size_t i = 0;
    while (i < n) {
        int l = letter_len(p + i, end);
        if (!l) {
            i++;
            continue;
        }
        size_t s = i;
        i += (size_t)l;
        for (;;) {
            int a;
            if ((l = letter_len(p + i, end)))
                i += (size_t)l;
            else if ((a = joiner_len(p + i, end)) && i + (size_t)a < n &&
                     letter_len(p + i + a, end))
                i += (size_t)a;
            else
                break;
        }
        size_t flen = i - s, len = flen;
        if (len >= 3 && p[s + len - 1] == 's' && p[s + len - 2] == '\'')
            len -= 2;
        else if (len >= 5 && p[s + len - 1] == 's' && p[s + len - 2] == 0x99 &&
                 p[s + len - 3] == 0x80 && p[s + len - 4] == 0xE2)
            len -= 4;
        if (flen > MAX_WORD) continue;
        if (k == cap) {
            cap *= 2;
            Word *nw = realloc(w, cap * sizeof *nw);
            if (!nw) return free(w), ob_errf(err, "out of memory for %zu words", cap);
            w = nw;
        }
        int has_lower = 0, letters = 0;
        for (size_t j = s; j < s + len; j++) has_lower |= is_lower(p[j]), letters++;
        uint8_t cls = is_lower(p[s])    ? W_LOW
                      : !is_upper(p[s]) ? W_OTHER
                      : has_lower       ? W_CAP
                      : letters >= 2    ? W_ALLCAPS
                                        : W_OTHER;
        w[k++] = (Word){
            (uint32_t)s, (uint16_t)len, (uint16_t)flen, cls, (uint8_t)sentence_initial(text, s), 0,
            -1,          file};
    }
    for (size_t j = 0; j + 1 < k; j++) {
        size_t e = w[j].start + w[j].flen, nx = w[j + 1].start;
        if (w[j].flen != w[j].len) continue; /* a possessive ends a name */
        if (nx == e + 1 && p[e] == ' ')
            w[j].join = 1;
        else if (nx == e + 2 && p[e] == '.' && p[e + 1] == ' ')
            w[j].join = 2;
    }
    *words = w;
    *n_words = k;
    return 0;
}

/* ---- the extraction context ------------------------------------------ */

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
    int n_sub, cap_sub;
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

static const char *text_of(const Ctx *x, int32_t file) {
    return x->in->target[file].data;
}

static char *word_surface(const Ctx *x, const Word *w, char *buf) {
    norm_word(text_of(x, w->file) + w->start, w->len, 0, buf);
    return buf;
}

/* ---- counting --------------------------------------------------------- */

static int count_text(Ctx *x, Word *w, size_t nw, const char *text, int g, ObErr *err) {
    char fold[MAX_WORD + 1], surf[MAX_WORD + 1];
    for (size_t i = 0; i < nw; i++) {
        norm_word(text + w[i].start, w[i].len, 1, fold);
        int32_t e = word_get(&x->t, fold, err);
        if (e < 0) return -1;
        w[i].ent = e;
        WordEnt *we = &x->t.w[e];
        if (w[i].cls == W_CAP || w[i].cls == W_LOW) {
            we->cnt[g][w[i].cls == W_LOW]++;
            if (!w[i].init) we->mid[g][w[i].cls == W_LOW]++;
        }
        if (g && w[i].cls == W_CAP && w[i].join == 1 && i + 1 < nw && w[i + 1].cls == W_CAP)
            we->g_lead++;
        if (w[i].cls == W_CAP && !we->cap) {
            norm_word(text + w[i].start, w[i].len, 0, surf);
            if (!(we->cap = strdup(surf))) return ob_errf(err, "out of memory");
        }
    }
    if (g)
        x->n_g += (long)nw;
    else
        x->n_t += (long)nw;
    return 0;
}

static int cap_word(const Ctx *x, const Word *w) {
    if (w->cls != W_CAP || w->ent < 0) return 0;
    const WordEnt *e = &x->t.w[w->ent];
    return !(e->flags & F_STOP) && !e->title;
}

static int is_st(const Ctx *x, const Word *w) {
    return w->ent >= 0 && (x->t.w[w->ent].flags & F_ST);
}

/* Can word j be followed by word j + 1 inside a name? */
static int continues(const Ctx *x, const Word *w, size_t j, size_t n) {
    if (j + 1 >= n || w[j].file != w[j + 1].file) return 0;
    return w[j].join == 1 || (w[j].join == 2 && is_st(x, &w[j]));
}

/* The title class before word i (0 female, 1 male, 2 either), or -1. */
static int title_before(const Ctx *x, const Word *w, size_t i) {
    if (i == 0 || w[i - 1].file != w[i].file || !w[i - 1].join || w[i - 1].ent < 0) return -1;
    return x->t.w[w[i - 1].ent].title - 1;
}

static void join_surface(char *buf, size_t size, const char *add, int join) {
    size_t k = strlen(buf);
    snprintf(buf + k, size - k, "%s%s", join == 2 ? ". " : " ", add);
}

/* Runs of capitalised words in T: the evidence about people and the
 * multi-word names (2-3 words). */
static int find_runs(Ctx *x, ObErr *err) {
    Word *w = x->tw;
    size_t n = x->n_tw;
    char buf[4 * MAX_WORD + 16], surf[MAX_WORD + 1];
    for (size_t i = 0; i < n;) {
        if (!cap_word(x, &w[i]) || (w[i].init && !x->t.w[w[i].ent].is_name && !is_st(x, &w[i]))) {
            i++;
            continue;
        }
        size_t j = i;
        while (continues(x, w, j, n) && cap_word(x, &w[j + 1])) j++;
        size_t next = j + 1;
        while (j > i && is_st(x, &w[j])) j--;
        if (is_st(x, &w[j])) {
            i = next;
            continue;
        }
        int L = (int)(j - i + 1), tb = title_before(x, w, i);
        int place = (x->t.w[w[j].ent].flags & F_PLACE) != 0;
        int speech = (i > 0 && w[i - 1].join && w[i - 1].ent >= 0 &&
                      (x->t.w[w[i - 1].ent].flags & F_SPEECH)) +
                     (j + 1 < n && w[j].join && w[j + 1].ent >= 0 &&
                      (x->t.w[w[j + 1].ent].flags & F_SPEECH));
        int he = 0, she = 0;
        for (size_t k = j + 1; k < n && k <= j + PRON_WINDOW && w[k].file == w[j].file; k++) {
            int f = w[k].ent >= 0 ? x->t.w[w[k].ent].flags : 0;
            he += (f & F_HE) != 0;
            she += (f & F_SHE) != 0;
        }
        WordEnt *first = &x->t.w[w[i].ent];
        for (size_t k = i; k <= j && !place; k++) {
            WordEnt *e = &x->t.w[w[k].ent];
            e->titled += tb >= 0;
            e->speech += speech;
            e->he += he;
            e->she += she;
            if (k > i && (first->flags & (F_FEMALE | F_MALE))) e->after_first++;
        }
        if (tb >= 0 && !place) first->title_n[tb]++;
        if (L == 1) first->titled_single += tb >= 0;
        if (L >= 2 && !place) first->run_first++, x->t.w[w[j].ent].run_last++;
        if (L >= 2 && L <= 3) {
            buf[0] = 0;
            for (size_t k = i; k <= j; k++) {
                word_surface(x, &w[k], surf);
                if (k == i)
                    snprintf(buf, sizeof buf, "%s", surf);
                else
                    join_surface(buf, sizeof buf, surf, w[k - 1].join);
            }
            int32_t p = phrase_get(&x->t, buf, err);
            if (p < 0) return -1;
            Phrase *ph = &x->t.ph[p];
            ph->n_words = L;
            for (int k = 0; k < L; k++) ph->went[k] = w[i + (size_t)k].ent;
            ph->titled += tb >= 0;
            if (tb >= 0) ph->title_n[tb]++;
            ph->speech += speech;
        }
        i = next;
    }
    return 0;
}

/* Counts every occurrence of the target's multi-word names in a text (and
 * records where they start, for the target). */
static int count_phrases(Ctx *x, const Word *w, size_t n, const char *text, int g, ObErr *err) {
    char buf[4 * MAX_WORD + 16], surf[MAX_WORD + 1];
    if (!x->t.n_ph) return 0;
    for (size_t i = 0; i < n; i++) {
        if (w[i].cls != W_CAP || !continues(x, w, i, n)) continue;
        norm_word(text + w[i].start, w[i].len, 0, buf);
        for (size_t k = i + 1; k <= i + 2 && k < n; k++) {
            if (!continues(x, w, k - 1, n) || w[k].cls != W_CAP) break;
            norm_word(text + w[k].start, w[k].len, 0, surf);
            join_surface(buf, sizeof buf, surf, w[k - 1].join);
            int32_t p = phrase_find(&x->t, buf);
            if (p < 0) continue;
            Phrase *ph = &x->t.ph[p];
            ph->cnt[g]++;
            if (g) continue;
            if (ph->n_occ == ph->cap_occ) {
                int cap = ph->cap_occ ? 2 * ph->cap_occ : 16;
                int32_t *o = realloc(ph->occ, (size_t)cap * sizeof *o);
                if (!o) return ob_errf(err, "out of memory");
                ph->occ = o;
                ph->cap_occ = cap;
            }
            ph->occ[ph->n_occ++] = (int32_t)i;
        }
    }
    return 0;
}

/* ---- statistics ------------------------------------------------------ */

double extract_log_odds(double y_t, double y_g, double n_t, double n_g, double alpha0,
                        double *delta, double *sigma) {
    double a = alpha0 * (y_t + y_g) / (n_t + n_g);
    double d =
        log((y_t + a) / (n_t + alpha0 - y_t - a)) - log((y_g + a) / (n_g + alpha0 - y_g - a));
    double s = sqrt(1.0 / (y_t + a) + 1.0 / (y_g + a));
    if (delta) *delta = d;
    if (sigma) *sigma = s;
    return d / s;
}

static int key_letters_ok(const char *key) {
    int letters = 0;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        letters += is_upper(*p) || is_lower(*p) || *p >= 0xC0;
    return letters >= 2;
}

static int add_cand(Ctx *x, Cand *c, ObErr *err) {
    if (x->n_cand == x->cap_cand) {
        int cap = x->cap_cand ? 2 * x->cap_cand : 1024;
        Cand *n = realloc(x->cand, (size_t)cap * sizeof *n);
        if (!n) return free(c->key), ob_errf(err, "out of memory for %d candidates", cap);
        x->cand = n;
        x->cap_cand = cap;
    }
    x->cand[x->n_cand++] = *c;
    return 0;
}

static int cmp_cand_lb(const void *a, const void *b) {
    const Cand *x = a, *y = b;
    if (x->lb != y->lb) return x->lb > y->lb ? -1 : 1;
    if (x->yt != y->yt) return x->yt > y->yt ? -1 : 1;
    return strcmp(x->key, y->key);
}

static int make_candidates(Ctx *x, double alpha0, ObErr *err) {
    const ExtractConfig *c = x->c;
    double nt = (double)x->n_t, ng = (double)(x->n_g > 0 ? x->n_g : 1);
    for (int32_t i = 0; i < x->t.n; i++) {
        WordEnt *e = &x->t.w[i];
        if (!(e->cnt[0][0] + e->cnt[0][1]) || (e->flags & (F_STOP | F_ST | F_PLACE)) || e->title)
            continue;
        long yt = e->is_name ? e->cnt[0][0] : e->cnt[0][0] + e->cnt[0][1];
        long yg = e->is_name ? e->cnt[1][0] : e->cnt[1][0] + e->cnt[1][1];
        const char *key = e->occ_cls == W_CAP ? e->cap : e->fold;
        if (yt < c->min_count || !key || !key_letters_ok(key)) continue;
        Cand k = {0};
        k.z = extract_log_odds((double)yt, (double)yg, nt, ng, alpha0, &k.delta, &k.sigma);
        k.lb = k.delta - LB_SIGMAS * k.sigma;
        if (!(k.lb > 0)) continue;
        k.key = strdup(key);
        if (!k.key) return ob_errf(err, "out of memory");
        k.phrase = -1;
        k.ent = i;
        k.n_words = 1;
        k.went[0] = i;
        k.yt = yt;
        k.yg = yg;
        if (add_cand(x, &k, err)) return -1;
    }
    for (int32_t i = 0; i < x->t.n_ph; i++) {
        Phrase *p = &x->t.ph[i];
        if (p->cnt[0] < c->min_count) continue;
        Cand k = {0};
        k.z = extract_log_odds((double)p->cnt[0], (double)p->cnt[1], nt, ng, alpha0, &k.delta,
                               &k.sigma);
        k.lb = k.delta - LB_SIGMAS * k.sigma;
        if (!(k.lb > 0)) continue;
        k.key = strdup(p->text);
        if (!k.key) return ob_errf(err, "out of memory");
        k.phrase = i;
        k.ent = -1;
        k.n_words = p->n_words;
        memcpy(k.went, p->went, sizeof k.went);
        k.yt = p->cnt[0];
        k.yg = p->cnt[1];
        if (add_cand(x, &k, err)) return -1;
    }
    qsort(x->cand, (size_t)x->n_cand, sizeof *x->cand, cmp_cand_lb);
    return 0;
}

/* Occurrences of each candidate's key form in T (word indices). */
static int candidate_occurrences(Ctx *x, ObErr *err) {
    x->next_occ = ob_malloc((x->n_tw + 1) * sizeof *x->next_occ, "occurrences", err);
    if (!x->next_occ) return -1;
    for (size_t i = 0; i < x->n_tw; i++) {
        Word *w = &x->tw[i];
        x->next_occ[i] = -1;
        if (w->ent < 0) continue;
        WordEnt *e = &x->t.w[w->ent];
        if (w->cls != e->occ_cls) continue;
        if (e->last_occ >= 0)
            x->next_occ[e->last_occ] = (int32_t)i;
        else
            e->first_occ = (int32_t)i;
        e->last_occ = (int32_t)i;
    }
    for (int i = 0; i < x->n_cand; i++) {
        Cand *k = &x->cand[i];
        if (k->phrase >= 0) {
            k->occ = x->t.ph[k->phrase].occ;
            k->n_occ = x->t.ph[k->phrase].n_occ;
            continue;
        }
        int n = 0;
        for (int32_t o = x->t.w[k->ent].first_occ; o >= 0; o = x->next_occ[o]) n++;
        k->occ = ob_malloc((size_t)(n ? n : 1) * sizeof *k->occ, "occurrences", err);
        if (!k->occ) return -1;
        for (int32_t o = x->t.w[k->ent].first_occ; o >= 0; o = x->next_occ[o])
            k->occ[k->n_occ++] = o;
    }
    return 0;
}

/* ---- people ---------------------------------------------------------- */

static int in_lists(const WordEnt *e) {
    return (e->flags & (F_FEMALE | F_MALE)) != 0;
}

/* 1: first name, 0: surname. */
static int first_name_role(const WordEnt *e) {
    int last = e->run_last + e->titled_single;
    if (e->run_first != last) return e->run_first > last;
    return in_lists(e);
}

/* 1 female, 0 male. */
static int word_gender(const WordEnt *e) {
    if (e->title_n[0] != e->title_n[1]) return e->title_n[0] > e->title_n[1];
    int f = (e->flags & F_FEMALE) != 0, m = (e->flags & F_MALE) != 0;
    if (f != m) return f;
    return e->she > e->he;
}

static void classify(Ctx *x, Cand *k) {
    const WordEnt *w0 = &x->t.w[k->went[0]], *wl = &x->t.w[k->went[k->n_words - 1]];
    k->person = 0;
    k->gender = -1;
    k->why[0] = 0;
    if (!wl->is_name || (wl->flags & F_PLACE) || !w0->is_name) return;
    if (k->phrase >= 0) {
        const Phrase *p = &x->t.ph[k->phrase];
        int titled_word = 0;
        for (int i = 0; i < k->n_words; i++) titled_word |= x->t.w[k->went[i]].titled > 0;
        if (p->titled)
            snprintf(k->why, sizeof k->why, "after a title %d times", p->titled);
        else if (in_lists(w0))
            snprintf(k->why, sizeof k->why, "first word in a first-name list");
        else if (titled_word)
            snprintf(k->why, sizeof k->why, "a word of it follows a title");
        else if (p->speech >= 2)
            snprintf(k->why, sizeof k->why, "next to a speech verb %d times", p->speech);
        else
            return;
    } else {
        if (w0->titled)
            snprintf(k->why, sizeof k->why, "after a title %d times", w0->titled);
        else if (in_lists(w0) && (!w0->run_last || w0->after_first))
            snprintf(k->why, sizeof k->why, "in a first-name list");
        else if (w0->after_first >= 2)
            snprintf(k->why, sizeof k->why, "after a listed first name %d times", w0->after_first);
        else if (w0->speech >= 2)
            snprintf(k->why, sizeof k->why, "next to a speech verb %d times", w0->speech);
        else
            return;
    }
    k->person = 1;
    for (int i = 0; i < k->n_words; i++) {
        const WordEnt *e = &x->t.w[k->went[i]];
        if (!(e->flags & F_ST) && first_name_role(e)) {
            k->gender = word_gender(e);
            break;
        }
    }
}

/* ---- pools of replacement names and words ----------------------------- */

static int ascii_name(const char *s) {
    size_t n = strlen(s);
    if (n < 3 || !is_upper((unsigned char)s[0])) return 0;
    for (size_t i = 1; i < n; i++)
        if (!is_lower((unsigned char)s[i])) return 0;
    return 1;
}

static int lower_word(const char *s) {
    size_t n = strlen(s);
    if (n < 4) return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_lower((unsigned char)s[i])) return 0;
    return 1;
}

typedef struct {
    const char *s;
    long g;
    int order;
} PoolEnt;

static int cmp_pool(const void *a, const void *b) {
    const PoolEnt *x = a, *y = b;
    if (x->g != y->g) return x->g > y->g ? -1 : 1;
    return x->order - y->order;
}

static long g_count(const Ctx *x, const char *word, int cap) {
    char fold[MAX_WORD + 1];
    if (strlen(word) > MAX_WORD) return 0;
    norm_word(word, strlen(word), 1, fold);
    int32_t e = word_find(&x->t, fold);
    return e < 0 ? 0 : x->t.w[e].cnt[1][cap ? 0 : 1];
}

/* Does the word occur in T, in any case? */
static int in_target(const Ctx *x, const char *word) {
    char fold[MAX_WORD + 1];
    if (strlen(word) > MAX_WORD) return 0;
    norm_word(word, strlen(word), 1, fold);
    int32_t e = word_find(&x->t, fold);
    return e >= 0 && (x->t.w[e].cnt[0][0] || x->t.w[e].cnt[0][1]);
}

/* Sorts e (most frequent in G first), keeps at most max of them (only
 * those seen POOL_MIN_G times in G when there are POOL_ENOUGH such) and
 * copies them into p. Frees e. */
static int pool_fill(Pool *p, PoolEnt *e, int k, int max, ObErr *err) {
    qsort(e, (size_t)k, sizeof *e, cmp_pool);
    int common = 0;
    while (common < k && e[common].g >= POOL_MIN_G) common++;
    if (common >= POOL_ENOUGH) k = common;
    if (k > max) k = max;
    p->s = ob_calloc((size_t)(k ? k : 1), sizeof *p->s, "names", err);
    p->used = ob_calloc((size_t)(k ? k : 1), 1, "names", err);
    int rc = p->s && p->used ? 0 : -1;
    for (int i = 0; !rc && i < k; i++, p->n++)
        if (!(p->s[i] = strdup(e[i].s))) rc = ob_errf(err, "out of memory");
    free(e);
    return rc;
}

/* Is the name in both first-name lists? */
static int both_lists(const Ctx *x, const char *name) {
    char fold[MAX_WORD + 1];
    if (strlen(name) > MAX_WORD) return 0;
    norm_word(name, strlen(name), 1, fold);
    int32_t e = word_find(&x->t, fold);
    return e >= 0 && (x->t.w[e].flags & (F_FEMALE | F_MALE)) == (F_FEMALE | F_MALE);
}

/* Names of a list that do not occur in T (nor in both first-name lists),
 * the most frequent in G first (list order among equals), at most
 * POOL_MAX. */
static int build_pool(Ctx *x, Pool *p, const char *const *names, int n, ObErr *err) {
    PoolEnt *e = ob_malloc((size_t)(n ? n : 1) * sizeof *e, "names", err);
    if (!e) return -1;
    int k = 0;
    for (int i = 0; i < n; i++)
        if (ascii_name(names[i]) && !in_target(x, names[i]) && !both_lists(x, names[i]))
            e[k] = (PoolEnt){names[i], g_count(x, names[i], 1), i}, k++;
    return pool_fill(p, e, k, POOL_MAX, err);
}

/* Fallback values: [1] generic place names not in T; [0] the lower-case
 * words most frequent in G that T does not use. */
static int build_fallback(Ctx *x, ObErr *err) {
    int np = 0;
    while (place_name_list[np]) np++;
    if (build_pool(x, &x->fallback[1], place_name_list, np, err)) return -1;
    PoolEnt *e = ob_malloc((size_t)(x->t.n ? x->t.n : 1) * sizeof *e, "words", err);
    if (!e) return -1;
    int k = 0;
    for (int32_t i = 0; i < x->t.n; i++) {
        const WordEnt *w = &x->t.w[i];
        if ((w->flags & (F_STOP | F_FEMALE | F_MALE | F_ST)) || w->title || w->cnt[0][0] ||
            w->cnt[0][1])
            continue;
        if (lower_word(w->fold) && w->cnt[1][1] > w->cnt[1][0])
            e[k++] = (PoolEnt){w->fold, w->cnt[1][1], (int)i};
    }
    return pool_fill(&x->fallback[0], e, k, FALLBACK_POOL, err);
}

static void pool_free(Pool *p) {
    for (int i = 0; i < p->n; i++) free(p->s[i]);
    free(p->s);
    free(p->used);
    memset(p, 0, sizeof *p);
}

/* Draws up to n distinct entries for `what` (seeded by seed and what); when
 * `exclusive`, prefers entries no earlier exclusive draw took. out[i] point
 * into the pool; returns how many. */
static int pool_draw(Pool *p, uint64_t seed, const char *what, int n, int exclusive,
                     const char **out) {
    ObRng r;
    /* The offset these draws have always been seeded with: a digit short of
     * FNV's own (14695981039346656037), kept so dictionaries stay the same. */
    ob_rng_seed(&r, seed ^ ob_fnv1a(1469598103934665603ULL, what, strlen(what)));
    int got = 0;
    int *pick = malloc((size_t)(n ? n : 1) * sizeof *pick);
    if (!pick) return 0;
    for (int tries = 0; got < n && got < p->n && tries < 8 * p->n + 64; tries++) {
        int k = (int)ob_rng_below(&r, (uint64_t)p->n), dup = 0;
        for (int j = 0; j < got; j++) dup |= pick[j] == k;
        if (dup || (exclusive && p->used[k])) continue;
        pick[got++] = k;
    }
    for (int tries = 0; got < n && got < p->n && tries < 8 * p->n + 64; tries++) {
        int k = (int)ob_rng_below(&r, (uint64_t)p->n), dup = 0; /* all taken: any */
        for (int j = 0; j < got; j++) dup |= pick[j] == k;
        if (!dup) pick[got++] = k;
    }
    for (int j = 0; j < got; j++) p->used[pick[j]] |= exclusive, out[j] = p->s[pick[j]];
    free(pick);
    return got;
}

/* The replacements of one word of a person's name, drawn once. */
static char **word_map(Ctx *x, int32_t ent, ObErr *err) {
    WordEnt *e = &x->t.w[ent];
    int nv = x->c->n_values;
    if (e->map) return e->map;
    e->map = ob_calloc((size_t)nv, sizeof *e->map, "names", err);
    if (!e->map) return NULL;
    const char *got[64];
    int n = 0;
    if (e->flags & F_ST) {
        for (int i = 0; i < nv; i++) got[i] = "St.";
        n = nv;
    } else {
        int first = first_name_role(e);
        e->map_role = first ? 1 + word_gender(e) : 0;
        Pool *p = &x->pool[first ? (word_gender(e) ? 0 : 1) : 2];
        n = pool_draw(p, x->c->seed, e->fold, nv, 1, got);
    }
    for (int i = 0; i < nv; i++) {
        const char *s = n ? got[i < n ? i : i % n] : "Smith";
        if (!(e->map[i] = strdup(s))) return ob_errf(err, "out of memory"), NULL;
    }
    return e->map;
}

/* ---- the model passes ------------------------------------------------ */

typedef struct {
    int64_t q;      /* stream position whose logits predict the token */
    int32_t target; /* the token at q + 1 */
    int32_t cand;
    int topk;    /* collect the base model's substitutes here */
    float lp[2]; /* log p under base, reinforced */
} Need;

static int cmp_need(const void *a, const void *b) {
    const Need *x = a, *y = b;
    if (x->q != y->q) return x->q < y->q ? -1 : 1;
    return x->cand - y->cand;
}

typedef struct {
    int32_t *ids; /* the stream: per file eot, then its tokens */
    int64_t n;
    int64_t *file_start; /* stream index of each file's first token */
    int64_t **tok_byte;  /* per file: byte offset of each token, plus the end */
    int64_t *n_tok;
} Stream;

static void stream_free(Stream *s, int n_files) {
    free(s->ids);
    free(s->file_start);
    for (int f = 0; s->tok_byte && f < n_files; f++) free(s->tok_byte[f]);
    free(s->tok_byte);
    free(s->n_tok);
    memset(s, 0, sizeof *s);
}

static int build_stream(const Ctx *x, Stream *s, ObErr *err) {
    int nf = x->in->n_target;
    const Tokenizer *tok = x->in->tok;
    memset(s, 0, sizeof *s);
    s->file_start = ob_calloc((size_t)nf, sizeof *s->file_start, "tokens", err);
    s->tok_byte = ob_calloc((size_t)nf, sizeof *s->tok_byte, "tokens", err);
    s->n_tok = ob_calloc((size_t)nf, sizeof *s->n_tok, "tokens", err);
    if (!s->file_start || !s->tok_byte || !s->n_tok) return -1;
    for (int f = 0; f < nf; f++) {
        int32_t *ids;
        size_t n;
        if (tok_encode(tok, x->in->target[f].data, x->in->target[f].len, &ids, &n, err))
            return ob_err_prefix(err, "%s", x->in->target[f].name);
        int32_t *all = realloc(s->ids, (size_t)(s->n + (int64_t)n + 1) * sizeof *all);
        s->tok_byte[f] = malloc((n + 1) * sizeof **s->tok_byte);
        if (!all || !s->tok_byte[f]) {
            if (all) s->ids = all;
            free(ids);
            return ob_errf(err, "out of memory for the target's tokens");
        }
        s->ids = all;
        s->ids[s->n++] = tok->eot_id;
        s->file_start[f] = s->n;
        int64_t off = 0;
        for (size_t i = 0; i < n; i++) {
            size_t len;
            tok_token_bytes(tok, ids[i], &len);
            s->tok_byte[f][i] = off;
            off += (int64_t)len;
            s->ids[s->n++] = ids[i];
        }
        s->tok_byte[f][n] = off;
        s->n_tok[f] = (int64_t)n;
        free(ids);
    }
    return 0;
}

/* Stream index of the token holding byte `at` of file f. */
static int64_t token_at(const Stream *s, int f, int64_t at) {
    int64_t lo = 0, hi = s->n_tok[f] - 1;
    while (lo < hi) {
        int64_t mid = (lo + hi + 1) / 2;
        if (s->tok_byte[f][mid] <= at)
            lo = mid;
        else
            hi = mid - 1;
    }
    return s->file_start[f] + lo;
}

/* Windows of T tokens starting every `stride`; window k answers for logits
 * positions [k stride + T - stride, (k + 1) stride + T - stride) (window 0
 * from 0), so each position it answers for has T - stride tokens before it
 * in the window. */
static int64_t window_of(int64_t q, int T, int stride) {
    int lead = T - stride;
    return q < T ? 0 : (q - lead) / stride;
}

typedef struct {
    int32_t id;
    float p;
} TopTok;

static void top_tokens(const float *logits, int V, float lse, TopTok *top, int k) {
    int n = 0;
    for (int v = 0; v < V; v++) {
        float l = logits[v];
        if (n == k && l <= top[k - 1].p) continue;
        int j = n < k ? n++ : k - 1;
        while (j > 0 && top[j - 1].p < l) top[j] = top[j - 1], j--;
        top[j] = (TopTok){v, l};
    }
    for (int i = 0; i < n; i++) top[i].p = expf(top[i].p - lse);
}

/* Runs model m over the windows holding the needed positions: lp[which] of
 * each need, and (base) the top tokens of those that want substitutes. */
static int model_pass(Ctx *x, Llama *m, int which, const Stream *s, Need *need, int n_need,
                      TopTok *tops, int *top_index, ObErr *err) {
    int T = m->cfg.ctx_len < s->n ? m->cfg.ctx_len : (int)s->n;
    int stride = T - T / 8, B = x->c->batch > 0 ? x->c->batch : 8, V = m->cfg.vocab;
    if (T < 2) return 0;
    if (llama_alloc_batch(m, B, T, err)) return -1;
    int32_t *inp = ob_malloc((size_t)B * (size_t)T * sizeof *inp, "model input", err);
    int64_t *win = ob_malloc((size_t)B * sizeof *win, "windows", err);
    if (!inp || !win) return free(inp), free(win), -1;
    double t0 = ob_now(), t_print = t0;
    int done = 0;
    for (int i = 0; i < n_need;) {
        /* the next B distinct windows that hold needed positions */
        int nb = 0, j = i;
        while (j < n_need) {
            int64_t k = window_of(need[j].q, T, stride);
            if (nb && win[nb - 1] == k) {
                j++;
                continue;
            }
            if (nb == B) break;
            win[nb++] = k;
            j++;
        }
        for (int b = 0; b < B; b++) {
            int64_t st = (b < nb ? win[b] : win[0]) * stride;
            if (st + T > s->n) st = s->n - T;
            for (int t = 0; t < T; t++) inp[b * T + t] = s->ids[st + t];
        }
        llama_forward(m, inp, NULL, T, NULL);
        for (int r = i; r < j; r++) {
            int64_t k = window_of(need[r].q, T, stride), st = k * stride;
            if (st + T > s->n) st = s->n - T;
            int b = 0;
            while (win[b] != k) b++;
            const float *lg = m->acts.logits + ((size_t)b * T + (size_t)(need[r].q - st)) * V;
            float mx = lg[0];
            for (int v = 1; v < V; v++) mx = lg[v] > mx ? lg[v] : mx;
            double sum = 0;
            for (int v = 0; v < V; v++) sum += exp((double)(lg[v] - mx));
            float lse = mx + (float)log(sum);
            need[r].lp[which] = lg[need[r].target] - lse;
            if (which == 0 && need[r].topk)
                top_tokens(lg, V, lse, tops + (size_t)top_index[r] * SUBST_TOP, SUBST_TOP);
        }
        done += nb;
        i = j;
        if (x->c->verbose && (ob_now() - t_print > 2 || i == n_need)) {
            ob_logf("\rextract: %s model: %d windows, %.0f s", which ? "reinforced" : "base", done,
                    ob_now() - t0);
            t_print = ob_now();
        }
    }
    if (x->c->verbose) ob_logf("\n");
    free(inp);
    free(win);
    return 0;
}

/* The token's text when it is a space and a whole word of ASCII letters
 * (into buf), else NULL. */
static const char *token_word(const Tokenizer *tok, int32_t id, char *buf) {
    size_t len;
    const char *b = tok_token_bytes(tok, id, &len);
    if (!b || len < 3 || len > MAX_WORD || b[0] != ' ' || id == tok->eot_id) return NULL;
    for (size_t i = 1; i < len; i++)
        if (!is_upper((unsigned char)b[i]) && !is_lower((unsigned char)b[i])) return NULL;
    memcpy(buf, b + 1, len - 1);
    buf[len - 1] = 0;
    return buf;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Is w a prefix of some candidate key's first word? */
static int prefix_of_key(const Ctx *x, const char *w) {
    int lo = 0, hi = x->n_cand;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (strcmp(x->key_firsts[mid], w) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < x->n_cand && !strncmp(x->key_firsts[lo], w, strlen(w));
}

static int accept_substitute(const Ctx *x, const Cand *k, const char *w) {
    int cap = is_upper((unsigned char)k->key[0]);
    char fold[MAX_WORD + 1], first[MAX_WORD + 1];
    if (cap && !ascii_name(w)) return 0;
    for (const char *p = w; !cap && *p; p++)
        if (!is_lower((unsigned char)*p)) return 0;
    if (strlen(w) < 2) return 0;
    norm_word(w, strlen(w), 1, fold);
    int32_t e = word_find(&x->t, fold);
    if (e < 0) return 0;
    const WordEnt *we = &x->t.w[e];
    if ((we->flags & (F_STOP | F_ST)) || we->title) return 0;
    if (we->cnt[1][cap ? 0 : 1] < SUBST_MIN_G) return 0;
    if (cap && 2 * we->g_lead >= we->cnt[1][0]) return 0;                 /* "New" of "New York" */
    if (cap && we->is_name && (we->cnt[0][0] || we->cnt[0][1])) return 0; /* a name of T */
    size_t fl = strcspn(k->key, " ");
    if (fl > MAX_WORD) fl = MAX_WORD;
    memcpy(first, k->key, fl);
    first[fl] = 0;
    size_t wl = strlen(w);
    if (!strncmp(first, w, wl) || !strncmp(w, first, fl)) return 0;
    return !prefix_of_key(x, w);
}

static int add_subst(Cand *k, const char *w, double mass, ObErr *err) {
    for (int i = 0; i < k->n_sub; i++)
        if (!strcmp(k->sub[i].word, w)) return k->sub[i].mass += mass, 0;
    if (k->n_sub == k->cap_sub) {
        int cap = k->cap_sub ? 2 * k->cap_sub : 8;
        Subst *s = realloc(k->sub, (size_t)cap * sizeof *s);
        if (!s) return ob_errf(err, "out of memory");
        k->sub = s;
        k->cap_sub = cap;
    }
    k->sub[k->n_sub].word = strdup(w);
    if (!k->sub[k->n_sub].word) return ob_errf(err, "out of memory");
    k->sub[k->n_sub++].mass = mass;
    return 0;
}

static int cmp_subst(const void *a, const void *b) {
    const Subst *x = a, *y = b;
    if (x->mass != y->mass) return x->mass > y->mass ? -1 : 1;
    return strcmp(x->word, y->word);
}

/* Model evidence for the best candidates and substitutes for those that are
 * not people. */
static int model_evidence(Ctx *x, int n_scored, ExtractResult *r, ObErr *err) {
    const ExtractInput *in = x->in;
    Stream s;
    if (build_stream(x, &s, err)) return stream_free(&s, in->n_target), -1;
    int max_occ = x->c->max_occ > 0 ? x->c->max_occ : 32;
    size_t cap = (size_t)n_scored * (size_t)max_occ + 1;
    Need *need = ob_malloc(cap * sizeof *need, "model positions", err);
    if (!need) return stream_free(&s, in->n_target), -1;
    int n_need = 0, n_top = 0;
    for (int i = 0; i < n_scored; i++) {
        Cand *k = &x->cand[i];
        int m = k->n_occ < max_occ ? k->n_occ : max_occ, subs = 0;
        for (int j = 0; j < m; j++) {
            const Word *w = &x->tw[k->occ[(size_t)j * (size_t)k->n_occ / (size_t)m]];
            int64_t p = token_at(&s, w->file, w->start);
            if (p < 1) continue;
            int f = w->file;
            size_t len;
            const char *tb = tok_token_bytes(in->tok, s.ids[p], &len);
            int64_t tok_start = s.tok_byte[f][p - s.file_start[f]];
            int sp = tb && len > 1 && tb[0] == ' ' && tok_start + 1 == (int64_t)w->start;
            int want = !k->person && sp && subs < SUBST_OCC;
            subs += want;
            n_top += want;
            need[n_need++] = (Need){p - 1, s.ids[p], i, want, {0, 0}};
        }
        k->scored = 1;
    }
    qsort(need, (size_t)n_need, sizeof *need, cmp_need);
    TopTok *tops = ob_malloc((size_t)(n_top ? n_top : 1) * SUBST_TOP * sizeof *tops, "top", err);
    int *top_index = ob_malloc((size_t)(n_need ? n_need : 1) * sizeof *top_index, "top", err);
    int rc = tops && top_index ? 0 : -1;
    for (int i = 0, t = 0; !rc && i < n_need; i++) top_index[i] = need[i].topk ? t++ : -1;
    double t0 = ob_now();
    if (!rc) rc = model_pass(x, in->base, 0, &s, need, n_need, tops, top_index, err);
    if (!rc && in->reinforced)
        rc = model_pass(x, in->reinforced, 1, &s, need, n_need, tops, top_index, err);
    r->seconds_model = ob_now() - t0;
    for (int i = 0; !rc && i < n_need; i++) {
        Cand *k = &x->cand[need[i].cand];
        double e = in->reinforced ? (double)(need[i].lp[1] - need[i].lp[0]) : need[i].lp[0];
        k->e_sum += e;
        k->n_e++;
        if (!need[i].topk) continue;
        char buf[MAX_WORD + 1];
        const TopTok *tt = tops + (size_t)top_index[i] * SUBST_TOP;
        for (int j = 0; !rc && j < SUBST_TOP; j++) {
            const char *w = token_word(in->tok, tt[j].id, buf);
            if (w && accept_substitute(x, k, w)) rc = add_subst(k, w, tt[j].p, err);
        }
    }
    for (int i = 0; i < n_scored; i++) {
        Cand *k = &x->cand[i];
        if (k->n_sub) qsort(k->sub, (size_t)k->n_sub, sizeof *k->sub, cmp_subst);
        if (!in->reinforced && k->n_e)
            k->e_sum -= k->n_e * log(((double)k->yg + 0.5) / (double)(x->n_g > 0 ? x->n_g : 1));
    }
    free(tops);
    free(top_index);
    free(need);
    stream_free(&s, in->n_target);
    return rc;
}

/* ---- ranking and values ---------------------------------------------- */

static int cmp_cand_final(const void *a, const void *b) {
    const Cand *x = a, *y = b;
    if (x->final != y->final) return x->final > y->final ? -1 : 1;
    return cmp_cand_lb(a, b);
}

static void mean_sd(const double *v, int n, double *mean, double *sd) {
    double m = 0, q = 0;
    for (int i = 0; i < n; i++) m += v[i];
    m = n ? m / n : 0;
    for (int i = 0; i < n; i++) q += (v[i] - m) * (v[i] - m);
    *mean = m;
    *sd = n > 1 && q > 0 ? sqrt(q / (n - 1)) : 1.0;
}

static int rank_candidates(Ctx *x, int n_scored, ObErr *err) {
    int n = x->n_cand;
    double *v = ob_malloc((size_t)(n ? n : 1) * sizeof *v, "scores", err);
    if (!v) return -1;
    double lb_m, lb_s, e_m = 0, e_s = 1;
    int ne = 0;
    for (int i = 0; i < n; i++) v[i] = x->cand[i].lb;
    mean_sd(v, n_scored ? n_scored : n, &lb_m, &lb_s);
    for (int i = 0; i < n; i++)
        if (x->cand[i].n_e) v[ne++] = x->cand[i].e_sum / x->cand[i].n_e;
    if (ne) mean_sd(v, ne, &e_m, &e_s);
    for (int i = 0; i < n; i++) {
        Cand *k = &x->cand[i];
        k->final = (k->lb - lb_m) / lb_s;
        if (k->n_e) k->final += x->c->model_weight * ((k->e_sum / k->n_e - e_m) / e_s);
    }
    free(v);
    qsort(x->cand, (size_t)n, sizeof *x->cand, cmp_cand_final);
    return 0;
}

/* Is key (split at spaces) made only of selected keys? */
static int all_words_selected(const Ctx *x, const char *key) {
    char w[4 * MAX_WORD + 16];
    int words = 0;
    for (const char *p = key; *p;) {
        size_t n = strcspn(p, " ");
        if (n >= sizeof w) return 0;
        memcpy(w, p, n);
        w[n] = 0;
        int found = 0;
        for (int i = 0; i < x->n_cand && !found; i++)
            found = x->cand[i].selected && !strcmp(x->cand[i].key, w);
        if (!found) return 0;
        words++;
        p += n;
        while (*p == ' ') p++;
    }
    return words > 1;
}

/* The best `top` candidates, leaving out multi-word keys whose words are all
 * selected keys themselves (anchors_load would prune them). */
static void select_top(Ctx *x, int top) {
    for (int changed = 1; changed;) {
        changed = 0;
        int n = 0;
        for (int i = 0; i < x->n_cand; i++) n += x->cand[i].selected == 1;
        for (int i = 0; i < x->n_cand && n < top; i++)
            if (!x->cand[i].selected) x->cand[i].selected = 1, n++;
        for (int i = 0; i < x->n_cand; i++) {
            Cand *k = &x->cand[i];
            if (k->selected == 1 && k->n_words > 1 && all_words_selected(x, k->key))
                k->selected = -1, changed = 1;
        }
    }
}

static int add_value(ExtractProposal *p, const char *v, int max, ObErr *err) {
    if (p->n_values >= max || !strcmp(v, p->key)) return 0;
    for (int i = 0; i < p->n_values; i++)
        if (!strcmp(p->values[i], v)) return 0;
    if (!(p->values[p->n_values] = strdup(v))) return ob_errf(err, "out of memory");
    p->n_values++;
    return 0;
}

/* The later words of a multi-word term kept in its values: those common in
 * G; into tail (with leading spaces). */
static void common_tail(const Ctx *x, const Cand *k, char *tail, size_t size) {
    tail[0] = 0;
    const char *p = strchr(k->key, ' ');
    while (p) {
        while (*p == ' ') p++;
        size_t n = strcspn(p, " ");
        char w[MAX_WORD + 1];
        if (n <= MAX_WORD) {
            memcpy(w, p, n);
            w[n] = 0;
            if (g_count(x, w, is_upper((unsigned char)w[0])) >= TAIL_MIN_G) {
                size_t l = strlen(tail);
                snprintf(tail + l, size - l, " %s", w);
            }
        }
        p = strchr(p, ' ');
    }
}

static int person_values(Ctx *x, const Cand *k, ExtractProposal *p, ObErr *err) {
    int nv = x->c->n_values;
    char **maps[3];
    for (int i = 0; i < k->n_words; i++)
        if (!(maps[i] = word_map(x, k->went[i], err))) return -1;
    for (int j = 0; j < nv; j++) {
        char v[4 * MAX_WORD + 16] = "";
        for (int i = 0; i < k->n_words; i++) {
            size_t l = strlen(v);
            snprintf(v + l, sizeof v - l, "%s%s", i ? " " : "", maps[i][j]);
        }
        if (add_value(p, v, nv, err)) return -1;
    }
    return 0;
}

static int other_values(Ctx *x, const Cand *k, ExtractProposal *p, ObErr *err) {
    int nv = x->c->n_values, cap = is_upper((unsigned char)k->key[0]);
    char tail[4 * MAX_WORD + 16], v[8 * MAX_WORD];
    common_tail(x, k, tail, sizeof tail);
    for (int i = 0; i < k->n_sub && p->n_values < nv; i++) {
        snprintf(v, sizeof v, "%s%s", k->sub[i].word, tail);
        if (add_value(p, v, nv, err)) return -1;
    }
    if (p->n_values < nv) {
        const char *got[64];
        int n = pool_draw(&x->fallback[cap], x->c->seed, k->key, nv, 0, got);
        for (int i = 0; i < n && p->n_values < nv; i++) {
            snprintf(v, sizeof v, "%s%s", got[i], tail);
            if (add_value(p, v, nv, err)) return -1;
        }
    }
    if (!p->n_values) return add_value(p, cap ? "Somewhere" : "something", nv, err);
    return 0;
}

static int make_proposals(Ctx *x, ExtractResult *r, ObErr *err) {
    int n = 0;
    for (int i = 0; i < x->n_cand; i++) n += x->cand[i].selected == 1;
    r->p = ob_calloc((size_t)(n ? n : 1), sizeof *r->p, "proposals", err);
    if (!r->p) return -1;
    int nv = x->c->n_values;
    for (int i = 0; i < x->n_cand; i++) {
        Cand *k = &x->cand[i];
        if (k->selected != 1) continue;
        if (!k->scored) classify(x, k);
        ExtractProposal *p = &r->p[r->n++];
        p->key = strdup(k->key);
        p->values = ob_calloc((size_t)nv, sizeof *p->values, "values", err);
        if (!p->key || !p->values) return ob_errf(err, "out of memory");
        p->n_words = k->n_words;
        p->kind = k->person ? EXTRACT_PERSON : EXTRACT_OTHER;
        p->gender = k->gender;
        snprintf(p->why, sizeof p->why, "%s", k->why);
        p->count_t = k->yt;
        p->count_g = k->yg;
        p->delta = k->delta;
        p->sigma = k->sigma;
        p->z = k->z;
        p->lb = k->lb;
        p->n_evidence = k->n_e;
        p->evidence = k->n_e ? k->e_sum / k->n_e : 0;
        p->final = k->final;
        if (k->n_sub) {
            p->substitutes = ob_calloc((size_t)k->n_sub, sizeof *p->substitutes, "subst", err);
            p->substitute_mass = ob_calloc((size_t)k->n_sub, sizeof *p->substitute_mass, "s", err);
            if (!p->substitutes || !p->substitute_mass) return -1;
            for (int j = 0; j < k->n_sub; j++) {
                if (!(p->substitutes[j] = strdup(k->sub[j].word))) return ob_errf(err, "oom");
                p->substitute_mass[j] = k->sub[j].mass;
                p->n_substitutes++;
            }
        }
        if (k->person ? person_values(x, k, p, err) : other_values(x, k, p, err)) return -1;
    }
    return 0;
}

/* ---- the whole run --------------------------------------------------- */

void extract_config_default(ExtractConfig *c) {
    *c = (ExtractConfig){.top = 200,
                         .min_count = 3,
                         .alpha0 = 0,
                         .model_weight = 0.5,
                         .n_values = 3,
                         .max_occ = 32,
                         .batch = 8,
                         .seed = 1,
                         .verbose = 0};
}

static int setup_lists(Ctx *x, const char *const *female, int nf, const char *const *male, int nm,
                       ObErr *err) {
    if (add_flag_words(&x->t, stop_list, F_STOP, err) ||
        add_flag_words(&x->t, speech_list, F_SPEECH, err) ||
        add_flag_words(&x->t, place_list, F_PLACE, err) ||
        add_flag_words(&x->t, he_list, F_HE, err) || add_flag_words(&x->t, she_list, F_SHE, err) ||
        add_flag_words(&x->t, abbrev_list, F_ABBREV, err))
        return -1;
    int32_t st = word_get(&x->t, "st", err);
    if (st < 0) return -1;
    x->t.w[st].flags |= F_ST;
    for (int c = 0; c < 3; c++)
        for (int i = 0; title_list[c][i]; i++) {
            int32_t k = word_get(&x->t, title_list[c][i], err);
            if (k < 0) return -1;
            x->t.w[k].title = c + 1;
        }
    char fold[MAX_WORD + 1];
    for (int g = 0; g < 2; g++) {
        const char *const *l = g ? male : female;
        for (int i = 0; i < (g ? nm : nf); i++) {
            if (strlen(l[i]) > MAX_WORD) continue;
            norm_word(l[i], strlen(l[i]), 1, fold);
            int32_t k = word_get(&x->t, fold, err);
            if (k < 0) return -1;
            x->t.w[k].flags |= g ? F_MALE : F_FEMALE;
        }
    }
    return 0;
}

static int count_general(Ctx *x, ObErr *err) {
    for (int f = 0; f < x->in->n_general; f++) {
        const ExtractText *g = &x->in->general[f];
        Word *w;
        size_t nw;
        if (scan_words(g->data, g->len, f, &w, &nw, err)) return ob_err_prefix(err, "%s", g->name);
        int rc = count_text(x, w, nw, g->data, 1, err) || count_phrases(x, w, nw, g->data, 1, err);
        free(w);
        if (rc) return -1;
    }
    return 0;
}

static int scan_target(Ctx *x, ObErr *err) {
    for (int f = 0; f < x->in->n_target; f++) {
        const ExtractText *t = &x->in->target[f];
        Word *w;
        size_t nw;
        if (scan_words(t->data, t->len, f, &w, &nw, err)) return ob_err_prefix(err, "%s", t->name);
        if (count_text(x, w, nw, t->data, 0, err)) return free(w), -1;
        Word *all = realloc(x->tw, (x->n_tw + nw + 1) * sizeof *all);
        if (!all) return free(w), ob_errf(err, "out of memory for the target's words");
        x->tw = all;
        memcpy(x->tw + x->n_tw, w, nw * sizeof *w);
        x->n_tw += nw;
        free(w);
    }
    return 0;
}

static int count_target_phrases(Ctx *x, ObErr *err) {
    /* per file, so that word indices stay global */
    size_t i = 0;
    for (int f = 0; f < x->in->n_target; f++) {
        size_t j = i;
        while (j < x->n_tw && x->tw[j].file == f) j++;
        /* count_phrases records indices relative to its array: shift them */
        int32_t *before = ob_malloc((size_t)(x->t.n_ph ? x->t.n_ph : 1) * sizeof *before, "n", err);
        if (!before) return -1;
        for (int32_t p = 0; p < x->t.n_ph; p++) before[p] = x->t.ph[p].n_occ;
        int rc = count_phrases(x, x->tw + i, j - i, x->in->target[f].data, 0, err);
        for (int32_t p = 0; !rc && p < x->t.n_ph; p++)
            for (int o = before[p]; o < x->t.ph[p].n_occ; o++) x->t.ph[p].occ[o] += (int32_t)i;
        free(before);
        if (rc) return -1;
        i = j;
    }
    return 0;
}

static void free_cands(Ctx *x) {
    for (int i = 0; i < x->n_cand; i++) {
        Cand *k = &x->cand[i];
        free(k->key);
        if (k->phrase < 0) free(k->occ);
        for (int j = 0; j < k->n_sub; j++) free(k->sub[j].word);
        free(k->sub);
    }
    free(x->cand);
    x->cand = NULL;
    x->n_cand = 0;
}

static void ctx_free(Ctx *x) {
    free_cands(x);
    tables_free(&x->t, x->c->n_values);
    free(x->tw);
    free(x->next_occ);
    free(x->key_firsts);
    for (int i = 0; i < 3; i++) pool_free(&x->pool[i]);
    for (int i = 0; i < 2; i++) pool_free(&x->fallback[i]);
}

static int key_firsts(Ctx *x, ObErr *err) {
    x->key_firsts =
        ob_malloc((size_t)(x->n_cand ? x->n_cand : 1) * sizeof *x->key_firsts, "keys", err);
    if (!x->key_firsts) return -1;
    for (int i = 0; i < x->n_cand; i++) x->key_firsts[i] = x->cand[i].key;
    qsort(x->key_firsts, (size_t)x->n_cand, sizeof *x->key_firsts, cmp_str);
    return 0;
}

static int run(Ctx *x, ExtractResult *r, ObErr *err) {
    const ExtractInput *in = x->in;
    const ExtractConfig *c = x->c;
    double t0 = ob_now();
    const NameList *nl = in->names;
    int have_lists = nl && (nl[0].n || nl[1].n);
    const char *const *female = have_lists ? (const char *const *)nl[0].names : builtin_female;
    const char *const *male = have_lists ? (const char *const *)nl[1].names : builtin_male;
    int nf = have_lists ? nl[0].n : 0, nm = have_lists ? nl[1].n : 0;
    if (!have_lists) {
        while (builtin_female[nf]) nf++;
        while (builtin_male[nm]) nm++;
    }
    if (setup_lists(x, female, nf, male, nm, err) || scan_target(x, err)) return -1;
    for (int32_t i = 0; i < x->t.n; i++) {
        WordEnt *e = &x->t.w[i];
        e->is_name = e->mid[0][0] > e->mid[0][1];
        e->occ_cls = e->is_name || !e->cnt[0][1] ? W_CAP : W_LOW;
    }
    if (find_runs(x, err) || count_target_phrases(x, err) || count_general(x, err)) return -1;
    if (x->n_t == 0) return ob_errf(err, "the target has no words");
    double alpha0 = c->alpha0 > 0 ? c->alpha0 : (double)x->n_t;
    if (make_candidates(x, alpha0, err) || candidate_occurrences(x, err) || key_firsts(x, err))
        return -1;
    int top = c->top > 0 ? c->top : 200;
    int n_scored = in->base ? (3 * top < x->n_cand ? 3 * top : x->n_cand) : 0;
    for (int i = 0; i < n_scored; i++) classify(x, &x->cand[i]);
    r->seconds_count = ob_now() - t0;
    if (c->verbose)
        ob_logf("extract: %ld target words, %ld general words, %d candidates (%.1f s); "
                "model evidence for %d\n",
                x->n_t, x->n_g, x->n_cand, r->seconds_count, n_scored);
    if (n_scored && model_evidence(x, n_scored, r, err)) return -1;
    if (rank_candidates(x, n_scored, err)) return -1;
    select_top(x, top);
    if (build_pool(x, &x->pool[0], female, nf, err) || build_pool(x, &x->pool[1], male, nm, err))
        return -1;
    int ns = 0;
    while (surname_list[ns]) ns++;
    if (build_pool(x, &x->pool[2], surname_list, ns, err) || build_fallback(x, err)) return -1;
    if (make_proposals(x, r, err)) return -1;
    r->n_t = x->n_t;
    r->n_g = x->n_g;
    r->alpha0 = alpha0;
    r->n_candidates = x->n_cand;
    r->n_scored = n_scored;
    r->evidence = !in->base        ? "none"
                  : in->reinforced ? "reinforced-minus-base"
                                   : "base-minus-general-unigram";
    r->seconds_total = ob_now() - t0;
    return 0;
}

int extract_run(const ExtractInput *in, const ExtractConfig *c, ExtractResult *r, ObErr *err) {
    memset(r, 0, sizeof *r);
    if (!in->n_target) return ob_errf(err, "extract: no target text");
    if (in->base && !in->tok) return ob_errf(err, "extract: a model needs its tokenizer");
    if (in->reinforced && !in->base)
        return ob_errf(err, "extract: a reinforced model needs the base");
    if (in->base && in->base->cfg.vocab != in->tok->n_vocab)
        return ob_errf(err, "extract: the base model's vocabulary (%d) is not its tokenizer's (%d)",
                       in->base->cfg.vocab, in->tok->n_vocab);
    if (in->reinforced && in->reinforced->cfg.vocab != in->base->cfg.vocab)
        return ob_errf(err,
                       "extract: the reinforced model's vocabulary (%d) differs from the "
                       "base model's (%d)",
                       in->reinforced->cfg.vocab, in->base->cfg.vocab);
    if (c->n_values < 1 || c->n_values > 16) return ob_errf(err, "extract: 1 to 16 values a key");
    Ctx x;
    memset(&x, 0, sizeof x);
    x.in = in;
    x.c = c;
    int rc = run(&x, r, err);
    ctx_free(&x);
    if (rc) extract_free(r);
    return rc;
}

void extract_free(ExtractResult *r) {
    for (int i = 0; r->p && i < r->n; i++) {
        ExtractProposal *p = &r->p[i];
        free(p->key);
        for (int j = 0; j < p->n_values; j++) free(p->values[j]);
        free(p->values);
        for (int j = 0; j < p->n_substitutes; j++) free(p->substitutes[j]);
        free(p->substitutes);
        free(p->substitute_mass);
    }
    free(r->p);
    memset(r, 0, sizeof *r);
}

/* ---- name lists ------------------------------------------------------ */

int extract_names_parse(NameList *l, const char *text, size_t len, ObErr *err) {
    memset(l, 0, sizeof *l);
    int cap = 0;
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t e = nl ? (size_t)(nl - text) : len, s = i;
        i = e + 1;
        while (s < e && (text[s] == ' ' || text[s] == '\t' || text[s] == '\r')) s++;
        size_t f = e;
        while (f > s && (text[f - 1] == ' ' || text[f - 1] == '\t' || text[f - 1] == '\r')) f--;
        if (f == s) continue;
        if (l->n == cap) {
            cap = cap ? 2 * cap : 256;
            char **n = realloc(l->names, (size_t)cap * sizeof *n);
            if (!n) return extract_names_free(l), ob_errf(err, "out of memory for names");
            l->names = n;
        }
        char *s1 = malloc(f - s + 1);
        if (!s1) return extract_names_free(l), ob_errf(err, "out of memory for names");
        memcpy(s1, text + s, f - s);
        s1[f - s] = 0;
        l->names[l->n++] = s1;
    }
    if (!l->n) return ob_errf(err, "no names");
    return 0;
}

void extract_names_free(NameList *l) {
    for (int i = 0; i < l->n; i++) free(l->names[i]);
    free(l->names);
    memset(l, 0, sizeof *l);
}

/* ---- output ---------------------------------------------------------- */

char *extract_dict_json(const ExtractResult *r) {
    cJSON *root = cJSON_CreateObject();
    int ok = root != NULL;
    for (int i = 0; ok && i < r->n; i++) {
        cJSON *a = cJSON_AddArrayToObject(root, r->p[i].key);
        ok = a != NULL;
        for (int j = 0; ok && j < r->p[i].n_values; j++) {
            cJSON *s = cJSON_CreateString(r->p[i].values[j]);
            ok = s && cJSON_AddItemToArray(a, s);
        }
    }
    char *text = ok ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    return text;
}

int extract_save(const ExtractResult *r, const char *path, ObErr *err) {
    if (!r->n) return ob_errf(err, "%s: no keys to write (no candidate passed the filters)", path);
    char *text = extract_dict_json(r);
    if (!text) return ob_errf(err, "%s: out of memory", path);
    AnchorDict d;
    int rc = anchors_parse(&d, text, strlen(text), path, err);
    if (!rc && d.n != r->n)
        rc = ob_errf(err, "%s: %d of %d keys would not load (pruned)", path, r->n - d.n, r->n);
    if (!rc) anchors_free(&d);
    ObAtomicFile af;
    if (!rc && !(rc = ob_atomic_open(&af, path, err))) {
        if (fputs(text, af.fp) == EOF || fputc('\n', af.fp) == EOF) {
            ob_atomic_abort(&af);
            rc = ob_errf(err, "%s: write failed", path);
        } else {
            rc = ob_atomic_commit(&af, err);
        }
    }
    free(text);
    return rc;
}

typedef struct {
    char *entity;
    char **heads;
    int n_heads;
} Expect;

static int has_key(const ExtractResult *r, const char *s) {
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->p[i].key, s)) return 1;
    return 0;
}

/* Splits one line "ENTITY<TAB>HEAD|HEAD" in place. */
static int parse_expect_line(char *line, Expect *e) {
    char *tab = strchr(line, '\t');
    e->entity = line;
    e->n_heads = 0;
    e->heads = NULL;
    if (!tab) return 0;
    *tab = 0;
    int n = 1;
    for (char *p = tab + 1; *p; p++) n += *p == '|';
    e->heads = calloc((size_t)n, sizeof *e->heads);
    if (!e->heads) return -1;
    for (char *p = tab + 1; p;) {
        char *bar = strchr(p, '|');
        if (bar) *bar = 0;
        if (*p) e->heads[e->n_heads++] = p;
        p = bar ? bar + 1 : NULL;
    }
    return 0;
}

/* Calls fn for every entity line; stops at an error. */
static int each_expect(const char *text, size_t len,
                       int (*fn)(void *ctx, const Expect *e, int found), void *ctx,
                       const ExtractResult *r, ObErr *err) {
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t e = nl ? (size_t)(nl - text) : len;
        size_t s = i, f = e;
        i = e + 1;
        while (f > s && (text[f - 1] == '\r' || text[f - 1] == ' ')) f--;
        if (f == s || text[s] == '#') continue;
        char *line = malloc(f - s + 1);
        if (!line) return ob_errf(err, "out of memory");
        memcpy(line, text + s, f - s);
        line[f - s] = 0;
        Expect x;
        if (parse_expect_line(line, &x)) return free(line), ob_errf(err, "out of memory");
        int found = has_key(r, x.entity);
        for (int h = 0; h < x.n_heads && !found; h++) found = has_key(r, x.heads[h]);
        int rc = fn(ctx, &x, found);
        free(x.heads);
        free(line);
        if (rc) return ob_errf(err, "out of memory");
    }
    return 0;
}

typedef struct {
    int found, total;
    char *misses;
    size_t len;
    cJSON *arr;
} ExpectAcc;

static int expect_count(void *ctx, const Expect *e, int found) {
    ExpectAcc *a = ctx;
    a->total++;
    a->found += found;
    if (found) return 0;
    size_t n = strlen(e->entity);
    char *m = realloc(a->misses, a->len + n + 3);
    if (!m) return -1;
    a->misses = m;
    if (a->len) memcpy(m + a->len, ", ", 2), a->len += 2;
    memcpy(m + a->len, e->entity, n + 1);
    a->len += n;
    return 0;
}

static int expect_json(void *ctx, const Expect *e, int found) {
    ExpectAcc *a = ctx;
    cJSON *o = cJSON_CreateObject();
    if (!o) return -1;
    cJSON_AddStringToObject(o, "entity", e->entity);
    cJSON *h = cJSON_AddArrayToObject(o, "heads");
    for (int i = 0; i < e->n_heads; i++) cJSON_AddItemToArray(h, cJSON_CreateString(e->heads[i]));
    cJSON_AddBoolToObject(o, "found", found);
    cJSON_AddItemToArray(a->arr, o);
    return 0;
}

int extract_expect(const ExtractResult *r, const char *text, size_t len, int *found, int *total,
                   char **misses, ObErr *err) {
    ExpectAcc a = {0};
    if (each_expect(text, len, expect_count, &a, r, err)) return free(a.misses), -1;
    *found = a.found;
    *total = a.total;
    *misses = a.misses ? a.misses : strdup("");
    return *misses ? 0 : ob_errf(err, "out of memory");
}

char *extract_report_json(const ExtractResult *r, const char *expect_text, size_t expect_len) {
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    cJSON_AddNumberToObject(j, "target_words", (double)r->n_t);
    cJSON_AddNumberToObject(j, "general_words", (double)r->n_g);
    cJSON_AddNumberToObject(j, "alpha0", r->alpha0);
    cJSON_AddStringToObject(j, "rank",
                            "standardised (delta - 2 sigma) + model_weight * "
                            "standardised model evidence");
    cJSON_AddStringToObject(j, "evidence", r->evidence ? r->evidence : "none");
    cJSON_AddNumberToObject(j, "candidates", (double)r->n_candidates);
    cJSON_AddNumberToObject(j, "scored_by_model", r->n_scored);
    cJSON *t = cJSON_AddObjectToObject(j, "seconds");
    cJSON_AddNumberToObject(t, "counting", r->seconds_count);
    cJSON_AddNumberToObject(t, "model", r->seconds_model);
    cJSON_AddNumberToObject(t, "total", r->seconds_total);
    if (expect_text) {
        ExpectAcc a = {0};
        ObErr err;
        a.arr = cJSON_CreateArray();
        if (a.arr && !each_expect(expect_text, expect_len, expect_json, &a, r, &err)) {
            int found = 0, n = cJSON_GetArraySize(a.arr);
            for (cJSON *e = a.arr->child; e; e = e->next)
                found += cJSON_IsTrue(cJSON_GetObjectItem(e, "found"));
            cJSON *x = cJSON_AddObjectToObject(j, "expected");
            cJSON_AddNumberToObject(x, "found", found);
            cJSON_AddNumberToObject(x, "total", n);
            cJSON_AddItemToObject(x, "entities", a.arr);
        } else {
            cJSON_Delete(a.arr);
        }
    }
    cJSON *arr = cJSON_AddArrayToObject(j, "proposals");
    for (int i = 0; i < r->n; i++) {
        const ExtractProposal *p = &r->p[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "rank", i + 1);
        cJSON_AddStringToObject(o, "key", p->key);
        cJSON *v = cJSON_AddArrayToObject(o, "values");
        for (int k = 0; k < p->n_values; k++)
            cJSON_AddItemToArray(v, cJSON_CreateString(p->values[k]));
        cJSON_AddStringToObject(o, "kind", p->kind == EXTRACT_PERSON ? "person" : "other");
        if (p->kind == EXTRACT_PERSON) {
            cJSON_AddStringToObject(o, "person_because", p->why);
            if (p->gender >= 0) cJSON_AddStringToObject(o, "gender", p->gender ? "female" : "male");
        }
        cJSON_AddNumberToObject(o, "count_target", (double)p->count_t);
        cJSON_AddNumberToObject(o, "count_general", (double)p->count_g);
        cJSON_AddNumberToObject(o, "log_odds", p->delta);
        cJSON_AddNumberToObject(o, "sigma", p->sigma);
        cJSON_AddNumberToObject(o, "z", p->z);
        cJSON_AddNumberToObject(o, "lower_bound", p->lb);
        if (p->n_evidence) {
            cJSON_AddNumberToObject(o, "model_evidence", p->evidence);
            cJSON_AddNumberToObject(o, "model_occurrences", p->n_evidence);
        }
        cJSON_AddNumberToObject(o, "score", p->final);
        if (p->n_substitutes) {
            cJSON *s = cJSON_AddArrayToObject(o, "substitutes");
            for (int k = 0; k < p->n_substitutes && k < 8; k++) {
                cJSON *so = cJSON_CreateObject();
                cJSON_AddStringToObject(so, "word", p->substitutes[k]);
                cJSON_AddNumberToObject(so, "mass", p->substitute_mass[k]);
                cJSON_AddItemToArray(s, so);
            }
        }
        cJSON_AddItemToArray(arr, o);
    }
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    return text;
}
