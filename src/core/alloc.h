/* alloc.h: allocation that never returns NULL.
 *
 * Out-of-memory aborts in exactly one place (sl_xoom), so no caller carries
 * NULL checks for malloc. Everything else in sluice allocates through here.
 */
#ifndef SL_ALLOC_H
#define SL_ALLOC_H

#include <stddef.h>

void *sl_xmalloc(size_t n);
void *sl_xcalloc(size_t count, size_t n);
void *sl_xrealloc(void *p, size_t n);
char *sl_xstrdup(const char *s);
char *sl_xstrndup(const char *s, size_t n);
void *sl_xmemdup(const void *p, size_t n);
_Noreturn void sl_xoom(size_t n);

/* Recover the struct that embeds `ptr` as `member` (h2o H2O_STRUCT_FROM_MEMBER). */
#define sl_container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

#endif
