/* Progress lines on stderr for long work: step, loss, learning rate,
 * tokens/s and ETA. */
#ifndef OB_PROGRESS_H
#define OB_PROGRESS_H

double ob_now(void); /* monotonic seconds */

typedef struct {
    const char *what;
    long start, total;
    double t0, t_last;
    long step_last;
    double tokens_since;
} Progress;

void progress_start(Progress *p, const char *what, long start, long total);
/* Counts tokens processed; prints a line when `print`. Returns tokens/s
 * since the last printed line. */
double progress_step(Progress *p, long step, double tokens, float loss, float lr, int print);
/* "1h02m", "3m05s", "12s" */
void ob_format_duration(double s, char *buf, int n);

#endif
