/* The built-in word lists (function words, titles, abbreviations, speech
 * verbs, place words, pronouns, short first-name lists, surnames, place
 * names) and the flags and title classes they give words of the table. */
#include <string.h>

#include "unlearn/extract_internal.h"

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
const char *const ex_abbrev_list[] = {"mr",  "mrs", "ms",  "dr",   "st",  "messrs", "mme", "mlle",
                                      "jr",  "sr",  "rev", "prof", "col", "capt",   "gen", "lt",
                                      "sgt", "no",  "vs",  "esq",  "co",  NULL};

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
const char *const ex_builtin_female[] = {
    "Mary",  "Anne",  "Margaret", "Elizabeth", "Jane",    "Alice",   "Emily", "Ellen",
    "Clara", "Grace", "Lucy",     "Rose",      "Edith",   "Martha",  "Sarah", "Emma",
    "Agnes", "Ada",   "Laura",    "Kate",      "Harriet", "Louisa",  "Fanny", "Nora",
    "Amy",   "Ruth",  "Esther",   "Ida",       "Mabel",   "Dorothy", NULL};
const char *const ex_builtin_male[] = {
    "John",    "William", "James", "George",  "Charles",   "Thomas", "Henry",   "Robert",
    "Edward",  "Joseph",  "Frank", "Walter",  "Arthur",    "Albert", "Samuel",  "David",
    "Richard", "Peter",   "Harry", "Alfred",  "Frederick", "Ernest", "Francis", "Herbert",
    "Louis",   "Paul",    "Ralph", "Stephen", "Daniel",    "Philip", NULL};

/* Common English surnames, for the surnames of people. */
const char *const ex_surname_list[] = {
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
const char *const ex_place_name_list[] = {
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

int ex_setup_lists(Ctx *x, const char *const *female, int nf, const char *const *male, int nm,
                   ObErr *err) {
    if (ex_add_flag_words(&x->t, stop_list, F_STOP, err) ||
        ex_add_flag_words(&x->t, speech_list, F_SPEECH, err) ||
        ex_add_flag_words(&x->t, place_list, F_PLACE, err) ||
        ex_add_flag_words(&x->t, he_list, F_HE, err) ||
        ex_add_flag_words(&x->t, she_list, F_SHE, err) ||
        ex_add_flag_words(&x->t, ex_abbrev_list, F_ABBREV, err))
        return -1;
    int32_t st = ex_word_get(&x->t, "st", err);
    if (st < 0) return -1;
    x->t.w[st].flags |= F_ST;
    for (int c = 0; c < 3; c++)
        for (int i = 0; title_list[c][i]; i++) {
            int32_t k = ex_word_get(&x->t, title_list[c][i], err);
            if (k < 0) return -1;
            x->t.w[k].title = c + 1;
        }
    char fold[MAX_WORD + 1];
    for (int g = 0; g < 2; g++) {
        const char *const *l = g ? male : female;
        for (int i = 0; i < (g ? nm : nf); i++) {
            if (strlen(l[i]) > MAX_WORD) continue;
            ex_norm_word(l[i], strlen(l[i]), 1, fold);
            int32_t k = ex_word_get(&x->t, fold, err);
            if (k < 0) return -1;
            x->t.w[k].flags |= g ? F_MALE : F_FEMALE;
        }
    }
    return 0;
}
