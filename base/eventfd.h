/* SPDX-License-Identifier: MIT */
/*
 * Wake-up eventfds: one thread (or a signal handler) says "look again", the
 * event loop wakes on the fd becoming readable and drains it. The counter's
 * value means nothing beyond "non-zero": a wake-up, not a count of events.
 * Every fd given here must be an eventfd opened with EFD_NONBLOCK (without
 * it a saturated counter would block the writer).
 */
#ifndef BASE_EVENTFD_H
#define BASE_EVENTFD_H

/*
 * Add 1 to the counter. Returns 0 once the counter is non-zero -- whether
 * this write did it, or the write failed with EAGAIN because the counter
 * is saturated (at 2^64 - 2) -- and -errno for any other failure (a bad
 * fd). EAGAIN is success for a wake-up: the counter is non-zero, so the
 * reader wakes, and it drains everything with one read, so nothing a
 * second signal would have said is lost. Callers that only wake someone
 * may ignore the result.
 *
 * Async-signal-safe (one write(2)), and errno is left as it was, so a
 * signal handler may call it.
 */
int eventfd_signal(int fd);

/*
 * Read and reset the counter. Returns 0 if it was signalled, -EAGAIN if
 * nothing was pending (another reader drained it first, or a wake-up that
 * raced with a drain), -errno otherwise. A non-blocking timerfd drains the
 * same way (its expiration count is 8 bytes too), for a handler that
 * serves both kinds.
 */
int eventfd_drain(int fd);

#endif /* BASE_EVENTFD_H */
