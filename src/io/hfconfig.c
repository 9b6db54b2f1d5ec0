#include "io/hfconfig.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/fileio.h"
#include "util/jsonfile.h"

static const cJSON *item(const cJSON *root, const char *key) {
    return cJSON_GetObjectItemCaseSensitive(root, key);
}

/* An integer key in 1..2^30; absent keys keep *out when `def` is set. */
static int get_int(const cJSON *root, const char *key, int *out, int required, const char *path,
                   ObErr *err) {
    const cJSON *j = item(root, key);
    if (!j || cJSON_IsNull(j)) {
        if (required) return ob_errf(err, "%s: %s missing", path, key);
        return 0;
    }
    double d = cJSON_IsNumber(j) ? j->valuedouble : -1;
    if (!(d >= 1 && d <= (double)(1 << 30)) || floor(d) != d)
        return ob_errf(err, "%s: %s must be a positive integer", path, key);
    *out = (int)d;
    return 0;
}

static int get_num(const cJSON *root, const char *key, double *out, const char *path, ObErr *err) {
    const cJSON *j = item(root, key);
    if (!j || cJSON_IsNull(j)) return 0;
    if (!cJSON_IsNumber(j) || !(j->valuedouble > 0))
        return ob_errf(err, "%s: %s must be a positive number", path, key);
    *out = j->valuedouble;
    return 0;
}

/* bos/eos ids: a number, a list (its first) or absent (-1). */
static int token_id(const cJSON *root, const char *key) {
    const cJSON *j = item(root, key);
    if (cJSON_IsArray(j)) j = j->child;
    return cJSON_IsNumber(j) && j->valuedouble >= 0 && j->valuedouble < (1 << 30)
               ? (int)j->valuedouble
               : -1;
}

static int is_true(const cJSON *root, const char *key) {
    return cJSON_IsTrue(item(root, key));
}

static int present(const cJSON *root, const char *key) {
    const cJSON *j = item(root, key);
    return j && !cJSON_IsNull(j) && !cJSON_IsFalse(j) &&
           !(cJSON_IsNumber(j) && j->valuedouble == 0);
}

/* The features obliviate's Llama does not have, each refused by name. */
static int refuse_features(const cJSON *root, const HFConfig *c, const char *path, ObErr *err) {
    const cJSON *arch = item(root, "architectures");
    if (arch) {
        const cJSON *a = cJSON_IsArray(arch) ? arch->child : NULL;
        const char *s = cJSON_IsString(a) ? a->valuestring : "?";
        if (!a || a->next || (strcmp(s, "LlamaForCausalLM") && strcmp(s, "MistralForCausalLM")))
            return ob_errf(err,
                           "%s: architecture %.64s is not supported (LlamaForCausalLM or "
                           "MistralForCausalLM)",
                           path, s);
    }
    if (strcmp(c->model_type, "llama") && strcmp(c->model_type, "mistral"))
        return ob_errf(err, "%s: model_type \"%s\" is not supported (llama or mistral)", path,
                       c->model_type);
    static const char *const moe[] = {"num_local_experts", "num_experts", "num_experts_per_tok",
                                      "moe_intermediate_size"};
    for (size_t i = 0; i < sizeof moe / sizeof moe[0]; i++)
        if (present(root, moe[i]))
            return ob_errf(err, "%s: mixture of experts (%s) is not supported", path, moe[i]);
    if (present(root, "rope_scaling"))
        return ob_errf(err, "%s: rope_scaling is not supported (plain RoPE only)", path);
    if (is_true(root, "attention_bias"))
        return ob_errf(err, "%s: attention_bias is not supported (no bias terms)", path);
    if (is_true(root, "mlp_bias"))
        return ob_errf(err, "%s: mlp_bias is not supported (no bias terms)", path);
    if (present(root, "quantization_config"))
        return ob_errf(err, "%s: quantized checkpoints (quantization_config) are not supported",
                       path);
    const cJSON *act = item(root, "hidden_act");
    if (act && (!cJSON_IsString(act) || strcmp(act->valuestring, "silu")))
        return ob_errf(err, "%s: hidden_act %.32s is not supported (silu only)", path,
                       cJSON_IsString(act) ? act->valuestring : "?");
    const cJSON *prf = item(root, "partial_rotary_factor");
    if (prf && !(cJSON_IsNumber(prf) && prf->valuedouble == 1.0))
        return ob_errf(err, "%s: partial_rotary_factor is not supported (full rotary only)", path);
    const cJSON *sw = item(root, "sliding_window");
    if (sw && !cJSON_IsNull(sw) && !(cJSON_IsNumber(sw) && sw->valuedouble >= (double)c->max_pos))
        return ob_errf(err,
                       "%s: sliding_window %.0f shorter than max_position_embeddings %d is not "
                       "supported (full attention only)",
                       path, cJSON_IsNumber(sw) ? sw->valuedouble : -1.0, c->max_pos);
    return 0;
}

int hfconfig_parse(HFConfig *c, const char *json, size_t len, const char *path, ObErr *err) {
    memset(c, 0, sizeof *c);
    cJSON *root = ob_json_parse_object(json, len, path, err);
    if (!root) return -1;
    const cJSON *mt = item(root, "model_type");
    snprintf(c->model_type, sizeof c->model_type, "%s",
             cJSON_IsString(mt) ? mt->valuestring : "(missing)");
    c->max_pos = 2048;
    c->rms_norm_eps = 1e-6;
    c->rope_theta = 10000.0;
    int rc = get_int(root, "hidden_size", &c->hidden_size, 1, path, err) ||
             get_int(root, "intermediate_size", &c->intermediate_size, 1, path, err) ||
             get_int(root, "num_hidden_layers", &c->n_layers, 1, path, err) ||
             get_int(root, "num_attention_heads", &c->n_heads, 1, path, err) ||
             get_int(root, "vocab_size", &c->vocab_size, 1, path, err) ||
             get_int(root, "max_position_embeddings", &c->max_pos, 0, path, err) ||
             get_num(root, "rms_norm_eps", &c->rms_norm_eps, path, err) ||
             get_num(root, "rope_theta", &c->rope_theta, path, err);
    if (!rc) {
        c->n_kv_heads = c->n_heads;
        c->head_dim = c->hidden_size / c->n_heads;
        rc = get_int(root, "num_key_value_heads", &c->n_kv_heads, 0, path, err) ||
             get_int(root, "head_dim", &c->head_dim, 0, path, err) ||
             refuse_features(root, c, path, err);
    }
    if (!rc) {
        c->tie_word_embeddings = is_true(root, "tie_word_embeddings");
        c->bos_token_id = token_id(root, "bos_token_id");
        c->eos_token_id = token_id(root, "eos_token_id");
        const cJSON *dt = item(root, "torch_dtype");
        if (!dt) dt = item(root, "dtype");
        if (cJSON_IsString(dt))
            snprintf(c->torch_dtype, sizeof c->torch_dtype, "%s", dt->valuestring);
    }
    cJSON_Delete(root);
    return rc ? -1 : 0;
}

int hfconfig_read(HFConfig *c, const char *path, ObErr *err) {
    char *text;
    size_t len;
    if (ob_read_file(path, &text, &len, err)) return -1;
    int rc = hfconfig_parse(c, text, len, path, err);
    free(text);
    return rc;
}

/* The shortest decimal that reads back as the same float: 1e-05, not
 * 9.99999975e-06, since GGUF keeps these values as f32. */
static double short_float(double v) {
    char buf[32];
    for (int p = 1; p <= 9; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, v);
        double r = strtod(buf, NULL);
        if ((float)r == (float)v) return r;
    }
    return v;
}

int hfconfig_write(const HFConfig *c, const char *path, ObErr *err) {
    cJSON *j = cJSON_CreateObject();
    cJSON *arch = cJSON_AddArrayToObject(j, "architectures");
    cJSON_AddItemToArray(arch, cJSON_CreateString("LlamaForCausalLM"));
    cJSON_AddStringToObject(j, "model_type", "llama");
    cJSON_AddFalseToObject(j, "attention_bias");
    cJSON_AddNumberToObject(j, "attention_dropout", 0.0);
    if (c->bos_token_id >= 0) cJSON_AddNumberToObject(j, "bos_token_id", c->bos_token_id);
    if (c->eos_token_id >= 0) cJSON_AddNumberToObject(j, "eos_token_id", c->eos_token_id);
    cJSON_AddNumberToObject(j, "head_dim", c->head_dim);
    cJSON_AddStringToObject(j, "hidden_act", "silu");
    cJSON_AddNumberToObject(j, "hidden_size", c->hidden_size);
    cJSON_AddNumberToObject(j, "initializer_range", 0.02);
    cJSON_AddNumberToObject(j, "intermediate_size", c->intermediate_size);
    cJSON_AddNumberToObject(j, "max_position_embeddings", c->max_pos);
    cJSON_AddFalseToObject(j, "mlp_bias");
    cJSON_AddNumberToObject(j, "num_attention_heads", c->n_heads);
    cJSON_AddNumberToObject(j, "num_hidden_layers", c->n_layers);
    cJSON_AddNumberToObject(j, "num_key_value_heads", c->n_kv_heads);
    cJSON_AddNumberToObject(j, "rms_norm_eps", short_float(c->rms_norm_eps));
    cJSON_AddNullToObject(j, "rope_scaling");
    cJSON_AddNumberToObject(j, "rope_theta", short_float(c->rope_theta));
    cJSON_AddBoolToObject(j, "tie_word_embeddings", c->tie_word_embeddings);
    if (c->torch_dtype[0]) cJSON_AddStringToObject(j, "torch_dtype", c->torch_dtype);
    cJSON_AddTrueToObject(j, "use_cache");
    cJSON_AddNumberToObject(j, "vocab_size", c->vocab_size);
    int rc = ob_json_write(path, j, err);
    cJSON_Delete(j);
    return rc;
}
