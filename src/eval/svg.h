/* Charts as inline SVG for the HTML report: horizontal bar charts (linear or
 * log scale, one or more series per category) and line charts. The output is
 * plain SVG markup with no scripts, fonts or external references, so a page
 * that embeds it stays one self-contained file. Every string given is
 * escaped; a value that is NAN is drawn as absent ("n/a"). */
#ifndef OB_SVG_H
#define OB_SVG_H

#include <stdio.h>

/* Writes s with & < > " ' escaped for HTML text and attribute values;
 * control characters other than tab and newline become U+FFFD. */
void xml_escape(FILE *out, const char *s);

typedef struct {
    const char *title;         /* shown above the plot */
    const char *axis;          /* what the values are, under the axis */
    const char *const *cats;   /* [n_cats] category labels, one row each */
    int n_cats;                /* rows */
    const char *const *series; /* [n_series] legend labels (NULL when n_series is 1) */
    int n_series;              /* bars per row */
    const double *v;           /* (n_cats, n_series) values; NAN = absent */
    int log_scale;             /* 1: log10 axis; values <= 0 are drawn at its left end */
    const char *fmt;           /* printf format of the value labels, e.g. "%.3g" */
    const char *id;            /* id attribute of the <svg> */
} SvgBarChart;

/* Writes one <svg class="chart"> element. */
void svg_bar_chart(FILE *out, const SvgBarChart *c);

typedef struct {
    const char *name;
    const double *x, *y; /* [n] */
    int n;
    int dashed; /* 1: dashed line with a dot per point (sparse series such as val loss) */
} SvgSeries;

typedef struct {
    const char *title;
    const char *x_axis, *y_axis;
    const SvgSeries *series; /* [n_series] */
    int n_series;
    const char *id;
} SvgLineChart;

/* Writes one <svg class="chart"> element; a chart with no points gets an
 * empty plot that says so. */
void svg_line_chart(FILE *out, const SvgLineChart *c);

/* A "nice" tick step (1, 2 or 5 times a power of ten) that cuts range into
 * about n intervals. */
double svg_nice_step(double range, int n);

#endif
