#include "io/gguf_summary.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/gguf.h"

void gguf_summary_config_defaults(GGUFSummaryConfig *c) {
    memset(c, 0, sizeof *c);
}

static const char *type_name(uint32_t t) {
    static const char *kv[] = {"u8",   "i8",  "u16",   "i16", "u32", "i32", "f32",
                               "bool", "str", "array", "u64", "i64", "f64"};
    return t < sizeof kv / sizeof kv[0] ? kv[t] : "?";
}

/* A scalar or short array value as JSON. */
static cJSON *kv_json(const GGUFKV *kv) {
    switch (kv->type) {
    case GGUF_TYPE_STRING: {
        char *s = strndup(kv->v.s.ptr, kv->v.s.len);
        cJSON *j = cJSON_CreateString(s ? s : "");
        free(s);
        return j;
    }
    case GGUF_TYPE_BOOL: return cJSON_CreateBool(kv->v.u != 0);
    case GGUF_TYPE_F32:
    case GGUF_TYPE_F64: return cJSON_CreateNumber(kv->v.f);
    case GGUF_TYPE_I8:
    case GGUF_TYPE_I16:
    case GGUF_TYPE_I32:
    case GGUF_TYPE_I64: return cJSON_CreateNumber((double)kv->v.i);
    case GGUF_TYPE_ARRAY: {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "array_of", type_name(kv->arr_type));
        cJSON_AddNumberToObject(j, "count", (double)kv->arr_n);
        return j;
    }
    default: return cJSON_CreateNumber((double)kv->v.u);
    }
}

static cJSON *summary_json(const GGUFFile *f, uint64_t *total) {
    cJSON *root = cJSON_CreateObject(), *meta = cJSON_AddObjectToObject(root, "metadata");
    cJSON_AddNumberToObject(root, "version", f->version);
    cJSON *tensors = cJSON_AddArrayToObject(root, "tensors");
    *total = 0;
    for (uint64_t i = 0; i < f->n_kv; i++)
        cJSON_AddItemToObject(meta, f->kv[i].key, kv_json(&f->kv[i]));
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const GGUFTensor *t = &f->tensors[i];
        cJSON *tj = cJSON_CreateObject();
        cJSON_AddStringToObject(tj, "name", t->name);
        cJSON_AddStringToObject(tj, "type", ggml_type_name(t->type));
        cJSON *dims = cJSON_AddArrayToObject(tj, "dims");
        for (uint32_t d = 0; d < t->n_dims; d++)
            cJSON_AddItemToArray(dims, cJSON_CreateNumber((double)t->dims[d]));
        cJSON_AddNumberToObject(tj, "offset", (double)t->offset);
        cJSON_AddItemToArray(tensors, tj);
        total[0] += t->n_elems;
    }
    cJSON_AddNumberToObject(root, "elements", (double)*total);
    return root;
}

/* A header line, one line per key (its value as JSON), one per tensor. */
static void write_table(FILE *out, const GGUFFile *f, const cJSON *meta, uint64_t total) {
    fprintf(out, "%s: GGUF v%u, %llu metadata keys, %llu tensors, %.2f M elements\n", f->path,
            f->version, (unsigned long long)f->n_kv, (unsigned long long)f->n_tensors, total / 1e6);
    for (const cJSON *it = meta->child; it; it = it->next) {
        char *v = cJSON_PrintUnformatted(it);
        fprintf(out, "  %-44s %s\n", it->string, v ? v : "");
        free(v);
    }
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const GGUFTensor *t = &f->tensors[i];
        char shape[96] = "";
        for (uint32_t d = 0; d < t->n_dims; d++)
            snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%llu", d ? " x " : "",
                     (unsigned long long)t->dims[d]);
        fprintf(out, "  %-32s %-5s %-20s @ %llu\n", t->name, ggml_type_name(t->type), shape,
                (unsigned long long)t->offset);
    }
}

int gguf_summary(const GGUFSummaryConfig *c, char **text, ObErr *err) {
    *text = NULL;
    GGUFFile f;
    if (gguf_open(&f, c->path, err)) return -1;
    uint64_t total;
    cJSON *root = summary_json(&f, &total);
    size_t len;
    FILE *out = open_memstream(text, &len);
    if (out) {
        char *s = c->json ? cJSON_PrintUnformatted(root) : NULL;
        if (c->json)
            fprintf(out, "%s\n", s ? s : "");
        else
            write_table(out, &f, cJSON_GetObjectItem(root, "metadata"), total);
        free(s);
        if (fclose(out)) free(*text), *text = NULL;
    }
    cJSON_Delete(root);
    gguf_close(&f);
    return *text ? 0 : ob_errf(err, "%s: out of memory describing it", c->path);
}
