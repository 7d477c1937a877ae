/* SPDX-License-Identifier: MIT */
/* Comma-separated "key[=value]" lists (opts.h). */
#include <string.h>

#include "base/opts.h"

bool opts_next_span(const char **s, struct opts_span *item)
{
	const char *p = *s, *end, *eq;

	if (!p || !*p)
		return false;
	end = strchr(p, ',');
	if (!end)
		end = p + strlen(p);
	eq = memchr(p, '=', (size_t)(end - p));
	item->key = p;
	item->klen = (size_t)((eq ? eq : end) - p);
	item->val = eq ? eq + 1 : NULL;
	item->vlen = eq ? (size_t)(end - eq - 1) : 0;
	/* past the comma, unless this was the last item */
	*s = *end ? end + 1 : end;
	return true;
}

char *opts_next(char **s, char **val)
{
	struct opts_span it;
	const char *p = *s;
	char *item;

	do {
		if (!opts_next_span(&p, &it)) {
			*s = NULL;
			return NULL;
		}
	} while (!it.klen && !it.val);
	/* The spans point into *s, which is ours to write. */
	item = (char *)it.key;
	item[it.klen + (it.val ? 1 + it.vlen : 0)] = '\0';
	if (val) {
		*val = it.val ? item + it.klen + 1 : NULL;
		if (it.val)
			item[it.klen] = '\0';
	}
	*s = (char *)p;
	return item;
}
