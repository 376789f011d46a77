/* alloc.c: the x-allocators of alloc.h; the one place that handles OOM. */
#include "core/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Noreturn void sl_xoom(size_t n)
{
	fprintf(stderr, "sluice: out of memory allocating %zu bytes\n", n);
	abort();
}

void *sl_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		sl_xoom(n);
	return p;
}

void *sl_xcalloc(size_t count, size_t n)
{
	void *p = calloc(count ? count : 1, n ? n : 1);
	if (!p)
		sl_xoom(count * n);
	return p;
}

void *sl_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		sl_xoom(n);
	return q;
}

char *sl_xstrdup(const char *s)
{
	return sl_xmemdup(s, strlen(s) + 1);
}

char *sl_xstrndup(const char *s, size_t n)
{
	char *p = sl_xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void *sl_xmemdup(const void *p, size_t n)
{
	void *q = sl_xmalloc(n);
	if (n)
		memcpy(q, p, n);
	return q;
}
