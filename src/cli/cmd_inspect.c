#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "io/gguf.h"

static const char *type_name(uint32_t t) {
    static const char *kv[] = {"u8",   "i8",  "u16",   "i16", "u32", "i32", "f32",
                               "bool", "str", "array", "u64", "i64", "f64"};
    return t < sizeof kv / sizeof kv[0] ? kv[t] : "?";
}

static const char *ggml_name(uint32_t t) {
    switch (t) {
    case GGML_TYPE_F32: return "F32";
    case GGML_TYPE_F16: return "F16";
    case GGML_TYPE_Q8_0: return "Q8_0";
    case GGML_TYPE_BF16: return "BF16";
    default: return "?";
    }
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

int cmd_inspect(int argc, char **argv) {
    int json = 0;
    Opt opts[] = {{"--json", OPT_FLAG, &json, "print JSON instead of a table"},
                  {NULL, 0, NULL, NULL}};
    Command cmd = {"inspect",
                   "[options] FILE.gguf",
                   "Shows a GGUF file's metadata (arrays summarised) and tensors (name, type, "
                   "shape in ggml order, offset).",
                   "obliviate inspect base.gguf",
                   opts,
                   1,
                   1};
    char **pos;
    int n_pos, rc = args_parse(&cmd, argc, argv, &pos, &n_pos);
    if (rc) return free(pos), rc == 1 ? 0 : rc;
    GGUFFile f;
    ObErr err;
    rc = gguf_open(&f, pos[0], &err);
    free(pos);
    if (rc) return cli_fail(cmd.name, err.msg);
    cJSON *root = cJSON_CreateObject(), *meta = cJSON_AddObjectToObject(root, "metadata");
    cJSON_AddNumberToObject(root, "version", f.version);
    cJSON *tensors = cJSON_AddArrayToObject(root, "tensors");
    uint64_t total = 0;
    for (uint64_t i = 0; i < f.n_kv; i++)
        cJSON_AddItemToObject(meta, f.kv[i].key, kv_json(&f.kv[i]));
    for (uint64_t i = 0; i < f.n_tensors; i++) {
        const GGUFTensor *t = &f.tensors[i];
        cJSON *tj = cJSON_CreateObject();
        cJSON_AddStringToObject(tj, "name", t->name);
        cJSON_AddStringToObject(tj, "type", ggml_name(t->type));
        cJSON *dims = cJSON_AddArrayToObject(tj, "dims");
        for (uint32_t d = 0; d < t->n_dims; d++)
            cJSON_AddItemToArray(dims, cJSON_CreateNumber((double)t->dims[d]));
        cJSON_AddNumberToObject(tj, "offset", (double)t->offset);
        cJSON_AddItemToArray(tensors, tj);
        total += t->n_elems;
    }
    cJSON_AddNumberToObject(root, "elements", (double)total);
    if (json) {
        print_json(root);
        gguf_close(&f);
        return 0;
    }
    printf("%s: GGUF v%u, %llu metadata keys, %llu tensors, %.2f M elements\n", f.path, f.version,
           (unsigned long long)f.n_kv, (unsigned long long)f.n_tensors, total / 1e6);
    for (cJSON *it = meta->child; it; it = it->next) {
        char *v = cJSON_PrintUnformatted(it);
        printf("  %-44s %s\n", it->string, v ? v : "");
        free(v);
    }
    for (uint64_t i = 0; i < f.n_tensors; i++) {
        const GGUFTensor *t = &f.tensors[i];
        char shape[96] = "";
        for (uint32_t d = 0; d < t->n_dims; d++)
            snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%llu", d ? " x " : "",
                     (unsigned long long)t->dims[d]);
        printf("  %-32s %-5s %-20s @ %llu\n", t->name, ggml_name(t->type), shape,
               (unsigned long long)t->offset);
    }
    cJSON_Delete(root);
    gguf_close(&f);
    return 0;
}
