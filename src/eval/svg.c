#include "eval/svg.h"

#include <math.h>
#include <string.h>

/* Tableau-like palette: distinct on white and for most colour blindness. */
static const char *const palette[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                      "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
#define N_PALETTE ((int)(sizeof palette / sizeof palette[0]))

#define FONT "font-family=\"sans-serif\" font-size=\"12\""

void xml_escape(FILE *out, const char *s) {
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&#39;", out); break;
        default:
            /* HTML forbids most C0 controls and DEL even as references */
            if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f)
                fputs("&#xFFFD;", out);
            else
                fputc(c, out);
        }
    }
}

/* A label cut to at most max bytes on a UTF-8 boundary, "..." marking the cut,
 * so long model names do not run off the left edge. */
static void short_label(FILE *out, const char *s, size_t max) {
    size_t n = strlen(s);
    if (n <= max) {
        xml_escape(out, s);
        return;
    }
    char buf[128];
    if (max > sizeof buf - 4) max = sizeof buf - 4;
    size_t k = max - 3;
    while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80) k--; /* not inside a character */
    memcpy(buf, s, k);
    memcpy(buf + k, "...", 4);
    xml_escape(out, buf);
}

double svg_nice_step(double range, int n) {
    if (!(range > 0) || !isfinite(range) || n < 1) return 1;
    double raw = range / n, p = pow(10, floor(log10(raw))), f = raw / p;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

/* Tick labels: short, no trailing zeros, powers of ten for tiny or huge. */
static void tick_label(char *buf, size_t cap, double v) {
    if (v != 0 && (fabs(v) < 1e-3 || fabs(v) >= 1e5))
        snprintf(buf, cap, "1e%d", (int)lround(log10(fabs(v))));
    else
        snprintf(buf, cap, "%.4g", fabs(v) < 1e-12 ? 0 : v);
}

static void svg_open(FILE *out, const char *id, const char *title, int w, int h) {
    fprintf(out,
            "<svg class=\"chart\" id=\"%s\" width=\"%d\" "
            "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">\n<title>",
            id ? id : "chart", w, h, w, h);
    xml_escape(out, title);
    fprintf(out,
            "</title>\n<text x=\"10\" y=\"20\" " FONT " font-size=\"14\" font-weight=\"bold\">");
    xml_escape(out, title);
    fputs("</text>\n", out);
}

/* A row of legend swatches starting at (x, y). */
static void legend(FILE *out, const char *const *names, int n, double x, double y, int lines) {
    for (int i = 0; i < n; i++) {
        const char *col = palette[i % N_PALETTE];
        if (lines)
            fprintf(out,
                    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                    "stroke-width=\"3\"/>\n",
                    x, y - 4, x + 18, y - 4, col);
        else
            fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"12\" fill=\"%s\"/>\n",
                    x, y - 10, col);
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" " FONT ">", x + 24, y);
        xml_escape(out, names[i]);
        fputs("</text>\n", out);
        x += 24 + 7.0 * (double)(strlen(names[i]) > 40 ? 40 : strlen(names[i])) + 18;
    }
}

void svg_bar_chart(FILE *out, const SvgBarChart *c) {
    const double W = 760, L = 190, R = 90, top = 36, bar = 14, gap = 2, pad = 12;
    int ns = c->n_series > 0 ? c->n_series : 1;
    double row = ns * (bar + gap) + pad, plot_w = W - L - R;
    /* the axis range over the values present */
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < c->n_cats * ns; i++) {
        double v = c->v[i];
        if (isnan(v) || (c->log_scale && v <= 0)) continue;
        lo = fmin(lo, v), hi = fmax(hi, v);
    }
    double a0, a1, step;
    if (c->log_scale) {
        a0 = isfinite(lo) ? floor(log10(lo)) : -3;
        a1 = isfinite(hi) ? ceil(log10(hi)) : 0;
        if (a1 <= a0) a1 = a0 + 1;
        step = ceil((a1 - a0) / 8); /* at most about 8 decade ticks */
    } else {
        a0 = 0;
        step = svg_nice_step(isfinite(hi) && hi > 0 ? hi : 1, 5);
        a1 = ceil((isfinite(hi) && hi > 0 ? hi : 1) / step) * step;
    }
    double plot_h = c->n_cats * row, axis_y = top + plot_h;
    int h = (int)(axis_y + 40 + (ns > 1 ? 24 : 0));
    svg_open(out, c->id, c->title, (int)W, h);
    /* x position of a value; log-scale values <= 0 sit at the left end */
    for (double t = a0; t <= a1 + 1e-9; t += step) {
        double x = L + plot_w * (t - a0) / (a1 - a0);
        char lab[32];
        tick_label(lab, sizeof lab, c->log_scale ? pow(10, t) : t);
        fprintf(out,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n"
                "<text x=\"%.1f\" y=\"%.1f\" " FONT " text-anchor=\"middle\" fill=\"#555\">%s"
                "</text>\n",
                x, top - 4, x, axis_y, x, axis_y + 14, lab);
    }
    fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n", L,
            axis_y, L + plot_w, axis_y);
    fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" " FONT " text-anchor=\"middle\" fill=\"#333\">",
            L + plot_w / 2, axis_y + 30);
    xml_escape(out, c->axis);
    fputs("</text>\n", out);
    for (int i = 0; i < c->n_cats; i++) {
        double y0 = top + i * row + pad / 2;
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" " FONT " text-anchor=\"end\">", L - 8,
                y0 + ns * (bar + gap) / 2 + 4);
        short_label(out, c->cats[i], 28);
        fputs("</text>\n", out);
        for (int s = 0; s < ns; s++) {
            double v = c->v[i * ns + s], y = y0 + s * (bar + gap);
            if (isnan(v)) {
                fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" " FONT " fill=\"#999\">n/a</text>\n",
                        L + 4, y + bar - 3);
                continue;
            }
            double f = c->log_scale ? (v > 0 ? (log10(v) - a0) / (a1 - a0) : 0) : v / a1;
            f = f < 0 ? 0 : f > 1 ? 1 : f;
            char lab[48];
            snprintf(lab, sizeof lab, c->fmt ? c->fmt : "%.3g", v);
            fprintf(out,
                    "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>\n"
                    "<text x=\"%.1f\" y=\"%.1f\" " FONT ">%s</text>\n",
                    L, y, plot_w * f, bar, palette[(ns > 1 ? s : i) % N_PALETTE],
                    L + plot_w * f + 4, y + bar - 3, lab);
        }
    }
    if (ns > 1 && c->series) legend(out, c->series, ns, L, axis_y + 56, 0);
    fputs("</svg>\n", out);
}

/* Widens an axis [lo, hi] with tick step *step so that hi > lo even where the
 * step vanishes next to the values (one point at 2e39: lo + 1 == lo), and
 * returns the number of steps, at most 100, so a tick loop always ends. */
static int axis_ticks(double *lo, double *hi, double *step) {
    if (!(*hi > *lo)) *hi = *lo + *step;
    if (!(*hi > *lo)) {
        *step = fmax(fabs(*lo), 1.0);
        *hi = *lo + *step;
    }
    double n = floor((*hi - *lo) / *step + 1e-6);
    if (!(n <= 100)) { /* rounding left too many steps: fewer, wider ones */
        *step = (*hi - *lo) / 100;
        n = 100;
    }
    return (int)n;
}

void svg_line_chart(FILE *out, const SvgLineChart *c) {
    const double W = 760, H = 320, L = 64, R = 20, top = 56, bottom = 48;
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (int s = 0; s < c->n_series; s++)
        for (int i = 0; i < c->series[s].n; i++) {
            double x = c->series[s].x[i], y = c->series[s].y[i];
            if (!isfinite(x) || !isfinite(y)) continue;
            x0 = fmin(x0, x), x1 = fmax(x1, x), y0 = fmin(y0, y), y1 = fmax(y1, y);
        }
    svg_open(out, c->id, c->title, (int)W, (int)H);
    double pw = W - L - R, ph = H - top - bottom;
    if (!isfinite(x0)) {
        fprintf(out,
                "<text x=\"%.1f\" y=\"%.1f\" " FONT " fill=\"#999\">no points</text>\n</svg>\n", L,
                top + ph / 2);
        return;
    }
    double xs = svg_nice_step(x1 - x0, 6), ys = svg_nice_step(y1 - y0, 5);
    x0 = floor(x0 / xs) * xs, x1 = ceil(x1 / xs) * xs;
    y0 = floor(y0 / ys) * ys, y1 = ceil(y1 / ys) * ys;
    int nx = axis_ticks(&x0, &x1, &xs), ny = axis_ticks(&y0, &y1, &ys);
    for (int i = 0; i <= ny; i++) {
        double t = y0 + i * ys, y = top + ph * (1 - (t - y0) / (y1 - y0));
        char lab[32];
        tick_label(lab, sizeof lab, t);
        fprintf(out,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n"
                "<text x=\"%.1f\" y=\"%.1f\" " FONT
                " text-anchor=\"end\" fill=\"#555\">%s</text>\n",
                L, y, L + pw, y, L - 6, y + 4, lab);
    }
    for (int i = 0; i <= nx; i++) {
        double t = x0 + i * xs, x = L + pw * (t - x0) / (x1 - x0);
        char lab[32];
        tick_label(lab, sizeof lab, t);
        fprintf(out,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>\n"
                "<text x=\"%.1f\" y=\"%.1f\" " FONT " text-anchor=\"middle\" fill=\"#555\">%s"
                "</text>\n",
                x, top, x, top + ph, x, top + ph + 16, lab);
    }
    fprintf(out,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
            "stroke=\"#333\"/>\n",
            L, top, pw, ph);
    fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" " FONT " text-anchor=\"middle\">", L + pw / 2,
            H - 10);
    xml_escape(out, c->x_axis);
    fprintf(out,
            "</text>\n<text x=\"14\" y=\"%.1f\" " FONT
            " text-anchor=\"middle\" transform=\"rotate(-90 14 %.1f)\">",
            top + ph / 2, top + ph / 2);
    xml_escape(out, c->y_axis);
    fputs("</text>\n", out);
    const char *names[32];
    int nn = c->n_series < 32 ? c->n_series : 32;
    for (int s = 0; s < c->n_series; s++) {
        const SvgSeries *sr = &c->series[s];
        const char *col = palette[s % N_PALETTE];
        if (s < nn) names[s] = sr->name;
        fprintf(out, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\"%s points=\"", col,
                sr->dashed ? " stroke-dasharray=\"5 3\"" : "");
        for (int i = 0; i < sr->n; i++) {
            if (!isfinite(sr->x[i]) || !isfinite(sr->y[i])) continue;
            fprintf(out, "%.1f,%.1f ", L + pw * (sr->x[i] - x0) / (x1 - x0),
                    top + ph * (1 - (sr->y[i] - y0) / (y1 - y0)));
        }
        fputs("\"/>\n", out);
        for (int i = 0; sr->dashed && i < sr->n; i++) {
            if (!isfinite(sr->x[i]) || !isfinite(sr->y[i])) continue;
            fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>\n",
                    L + pw * (sr->x[i] - x0) / (x1 - x0),
                    top + ph * (1 - (sr->y[i] - y0) / (y1 - y0)), col);
        }
    }
    legend(out, names, nn, L, 40, 1);
    fputs("</svg>\n", out);
}
