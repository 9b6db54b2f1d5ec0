#include "util/progress.h"
#include "util/log.h"

#include <stdio.h>
#include <time.h>

double ob_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

void ob_format_duration(double s, char *buf, int n) {
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, n, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else if (t >= 60)
        snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
    else
        snprintf(buf, n, "%lds", t);
}

void progress_start(Progress *p, const char *what, long start, long total) {
    p->what = what;
    p->start = p->step_last = start;
    p->total = total;
    p->t0 = p->t_last = ob_now();
    p->tokens_since = 0;
}

double progress_step(Progress *p, long step, double tokens, float loss, float lr, int print) {
    p->tokens_since += tokens;
    if (!print) return 0;
    double now = ob_now(), dt = now - p->t_last;
    double tok_s = dt > 0 ? p->tokens_since / dt : 0;
    double per_step = (now - p->t0) / (double)(step - p->start);
    char eta[32];
    ob_format_duration(per_step * (double)(p->total - step), eta, sizeof eta);
    ob_logf("%s: step %ld/%ld | loss %.4f | lr %.2e | %.0f tok/s | ETA %s\n", p->what, step,
            p->total, loss, lr, tok_s, eta);
    p->t_last = now;
    p->tokens_since = 0;
    p->step_last = step;
    return tok_s;
}
