/* SPDX-License-Identifier: MIT */
/*
 * A one-line progress bar on stderr for long vmm-img operations (convert,
 * check). Drawn only when asked for: by default when stderr is a terminal
 * and the image is large, or always with -p. Redrawn at most ~10 times a
 * second so that a fast loop does not spend its time writing to the tty.
 */
#ifndef VMM_TOOLS_PROGRESS_H
#define VMM_TOOLS_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

/* Images smaller than this finish too fast for a bar to be useful. */
#define PROGRESS_MIN_BYTES (64ULL << 20)

struct progress {
	bool enabled;
	bool tty;		  /* stderr is a terminal (escape sequences work) */
	bool visible;		  /* a bar is on the screen (the cursor is on its line) */
	uint64_t last_draw_ns;	  /* for the ~10 Hz limit */
	unsigned int last_tenths; /* last drawn value, in 0.1 % */
	unsigned int width;	  /* of the bar, in characters */
};

/* Should a bar be drawn: `force` (-p), or stderr is a terminal and the
 * work covers at least PROGRESS_MIN_BYTES. */
bool progress_wanted(bool force, uint64_t bytes);
void progress_init(struct progress *p, bool enabled);
/* `done` out of `total` units; cheap to call often. */
void progress_update(struct progress *p, uint64_t done, uint64_t total);
/* Erase the bar before printing something else on the terminal; the next
 * update draws it again. */
void progress_hide(struct progress *p);
/* Draw 100 % and end the line. */
void progress_finish(struct progress *p);

#endif /* VMM_TOOLS_PROGRESS_H */
