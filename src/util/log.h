/* Progress and notes from library code (training steps, label blocks, stage
 * timings) reach the user through one sink that the caller installs: the
 * command line prints them on stderr from MPI rank 0 only; tests and other
 * embedders get silence unless they install their own. Library code never
 * writes to stdout or stderr itself. */
#ifndef OB_LOG_H
#define OB_LOG_H

/* Receives each message as formatted, newline or carriage return included. */
typedef void (*ObLogSink)(void *ctx, const char *text);

/* Installs the sink for the whole process (NULL: silence). Call it before
 * the work starts; it is not synchronised with messages in flight. */
void ob_log_set(ObLogSink sink, void *ctx);

/* Formats a message and hands it to the sink, if any (cut at 1 KiB). */
void ob_logf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
