/* UTF-8 validation, for refusing text files that are not text. */
#ifndef OB_UTF8_H
#define OB_UTF8_H

#include <stddef.h>

/* Returns the offset of the first invalid byte, or len if s is valid UTF-8
 * (no overlongs, no surrogates, nothing above U+10FFFF). */
size_t utf8_invalid_at(const char *s, size_t len);

#endif
