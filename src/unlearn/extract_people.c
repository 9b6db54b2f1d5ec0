/* People: which candidates are persons (titles, first-name lists, speech
 * verbs), which words of a name are first names, and their gender. */
#include <stdio.h>

#include "unlearn/extract_internal.h"

static int in_lists(const WordEnt *e) {
    return (e->flags & (F_FEMALE | F_MALE)) != 0;
}

/* 1: first name, 0: surname. */
int ex_first_name_role(const WordEnt *e) {
    int last = e->run_last + e->titled_single;
    if (e->run_first != last) return e->run_first > last;
    return in_lists(e);
}

/* 1 female, 0 male. */
int ex_word_gender(const WordEnt *e) {
    if (e->title_n[0] != e->title_n[1]) return e->title_n[0] > e->title_n[1];
    int f = (e->flags & F_FEMALE) != 0, m = (e->flags & F_MALE) != 0;
    if (f != m) return f;
    return e->she > e->he;
}

void ex_classify(Ctx *x, Cand *k) {
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
        if (!(e->flags & F_ST) && ex_first_name_role(e)) {
            k->gender = ex_word_gender(e);
            break;
        }
    }
}
