/* The extraction report: parameters, timings, the expected entities and
 * every proposal with its counts, scores and evidence, as JSON text. */
#include <cjson/cJSON.h>

#include "unlearn/extract_internal.h"

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
    cJSON *expected = expect_text ? ex_expect_json(r, expect_text, expect_len) : NULL;
    if (expected) cJSON_AddItemToObject(j, "expected", expected);
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
